"""The classification commands with the served model: rescore, predict_images, register_model."""

import csv

import pytest
from django.core.management import CommandError, call_command

from inference import Classifier
from inference.serving.preprocessing import load_rgb
from lesions import registry
from lesions.models import LesionImage, ModelVersion
from tests.factories import LesionImageFactory
from tests.images import encode, jpeg_bytes, lesion_photo
from tests.model_files import model_copy, served_model

ISIC_HEADER = ["image", "MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]


@pytest.mark.django_db
def test_rescore_keeps_each_versions_prediction_and_reports_unreadable_photos(people, tmp_path, capsys):
    served_model()
    photos = [
        LesionImageFactory(
            lesion=people.lesion_a, uploaded_by=people.clinician_a, content=jpeg_bytes((200 + 10 * n, 150))
        )
        for n in range(3)
    ]
    lost = LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a)
    lost.image.storage.delete(lost.image.name)

    call_command("rescore", batch_size=2)
    newer = model_copy(tmp_path, version="newer-2")
    call_command("rescore", model=str(newer), activate=True)

    shipped = Classifier.load(served_model())
    for photo in photos:
        photo.refresh_from_db()
        assert photo.status == LesionImage.Status.DONE
        versions = [prediction.model_version.version for prediction in photo.predictions.order_by("created_at")]
        assert versions == [shipped.version, "newer-2"]
        assert photo.latest_prediction.model_version.version == "newer-2"
    assert not lost.predictions.exists()
    assert ModelVersion.objects.get(is_active=True).version == "newer-2"
    output = capsys.readouterr()
    assert output.out.count("3 photos scored") == 2 and "1 unreadable" in output.out
    assert f"image {lost.pk} ({lost.image.name}) could not be read" in output.err


@pytest.mark.django_db
def test_rescore_names_an_unknown_model_version():
    with pytest.raises(CommandError, match="no model file with version 'no-such-version'"):
        call_command("rescore", model="no-such-version")


@pytest.mark.django_db
def test_predict_images_writes_isic_rows_and_skips_unreadable_files(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "ISIC_1.jpg").write_bytes(jpeg_bytes())
    (folder / "ISIC_2.PNG").write_bytes(encode(lesion_photo((300, 200), lesion_scale=1.5), "PNG"))
    (folder / "ISIC_3.jpeg").write_bytes(jpeg_bytes((640, 480)))
    (folder / "broken.jpg").write_bytes(jpeg_bytes()[:300])
    (folder / "notes.txt").write_text("not a photo")
    out = tmp_path / "predictions.csv"

    call_command("predict_images", str(folder), "--out", str(out), "--batch-size", "2")

    rows = list(csv.reader(out.open()))
    assert rows[0] == ISIC_HEADER
    assert [row[0] for row in rows[1:]] == ["ISIC_1", "ISIC_2", "ISIC_3"]
    expected = registry.served_classifier().predict([load_rgb(folder / "ISIC_2.PNG")])[0].probabilities
    isic_2 = dict(zip(ISIC_HEADER[1:], map(float, rows[2][1:]), strict=True))
    assert isic_2 == {column: pytest.approx(expected[column.lower()], abs=1e-6) for column in ISIC_HEADER[1:]}
    for row in rows[1:]:
        assert sum(map(float, row[1:])) == pytest.approx(1, abs=1e-5)
    output = capsys.readouterr()
    assert "skipped broken.jpg: not a readable image" in output.err
    assert "3 rows written" in output.out and "skipped: 1" in output.out


def test_predict_images_refuses_a_missing_folder(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("predict_images", str(tmp_path / "absent"), "--out", str(tmp_path / "out.csv"))


@pytest.mark.django_db
def test_register_model_records_the_metadata_and_activates_on_request(tmp_path, capsys):
    call_command("register_model")
    newer = model_copy(tmp_path, version="newer-2")
    call_command("register_model", model=str(newer))
    assert ModelVersion.objects.get(is_active=True).version == Classifier.load(served_model()).version

    call_command("register_model", model=str(newer), activate=True)

    active = ModelVersion.objects.get(is_active=True)
    assert (active.version, active.sha256) == ("newer-2", registry.served_classifier().sha256)
    assert active.metrics == registry.served_classifier().metrics
    assert capsys.readouterr().out.splitlines()[-1].endswith(": active")

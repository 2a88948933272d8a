"""Correcting the record (issue 16): patient details on a page, moving, re-dating and deleting photos, deleting
lesions, moving a body-map pin; soft deletes restored by a clinic admin and purged after 30 days; every change
audited with its before and after; the changes measured against a moved or deleted photo measured again."""

import re
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from lesions import pipeline, services
from lesions.body_map import body_site_at
from lesions.models import BodySite, ChangeAcknowledgement, ConfirmedDiagnosis, Lesion, LesionImage
from lesions.purge import purge_deleted
from lesions.services import (
    acknowledge_change,
    confirm_diagnosis,
    correct_photo,
    delete_lesion,
    delete_photo,
    restore_lesion,
    restore_photo,
)
from lesions.views import review_queue_counts
from tests.conftest import api_client, stored_files
from tests.factories import GROWTH, LesionFactory, LesionImageFactory, PatientFactory, PredictionFactory


def as_measured(*images):
    """The worker's state after classifying each photo and measuring it against the one before it, every flagged
    change acknowledged by the clinic."""
    for image in images:
        PredictionFactory(image=image)
        pipeline.analyse_image(image_pk=image.pk)
        image.refresh_from_db()
        if image.change_flagged:
            acknowledge_change(image=image, acknowledged_by=image.uploaded_by)


def growing_photos(lesion, user, *, months, day: int = 1) -> list[LesionImage]:
    """A photo of the lesion on the given day of each month, the lesion larger in each."""
    return [
        LesionImageFactory(
            lesion=lesion,
            uploaded_by=user,
            captured_at=f"2026-0{month}-{day:02d}T10:00:00Z",
            lesion_scale=GROWTH**index,
        )
        for index, month in enumerate(months)
    ]


@pytest.fixture
def remeasured(monkeypatch):
    """The photos sent to the worker's change stage."""
    sent = []
    monkeypatch.setattr(services.analyse_image_task, "delay_on_commit", sent.append)
    return sent


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("x", "y", "site"),
    [
        (0.25, 0.09, BodySite.FACE),
        (0.75, 0.09, BodySite.SCALP),
        (0.25, 0.16, BodySite.NECK),
        (0.25, 0.24, BodySite.CHEST),
        (0.25, 0.38, BodySite.ABDOMEN),
        (0.75, 0.30, BodySite.BACK),
        (0.25, 0.46, BodySite.GENITAL),
        (0.07, 0.32, BodySite.UPPER_EXTREMITY),
        (0.93, 0.32, BodySite.UPPER_EXTREMITY),
        (0.05, 0.50, BodySite.HAND),
        (0.19, 0.70, BodySite.LOWER_EXTREMITY),
        (0.69, 0.90, BodySite.FOOT),
        (0.25, 0.99, BodySite.UNKNOWN),
        (0.01, 0.02, BodySite.UNKNOWN),
    ],
)
def test_a_point_on_the_body_diagram_names_its_body_site(x, y, site):
    assert body_site_at(x, y) == site


def test_moving_the_pin_on_the_lesion_page_sets_the_body_site_and_is_audited(people):
    lesion = people.lesion_a
    answer = signed_in(people.clinician_a).post(
        f"/lesions/{lesion.pk}/edit/",
        {
            "body_site": "back",
            "label": lesion.label,
            "follow_up_unit": "months",
            "diagram_x": "0.25",
            "diagram_y": "0.09",
        },
    )
    assert answer.status_code == 302
    lesion.refresh_from_db()
    assert (lesion.diagram_x, lesion.diagram_y, lesion.body_site) == (0.25, 0.09, BodySite.FACE)
    event = AuditEvent.objects.filter(path=f"/lesions/{lesion.pk}/edit/").get()
    assert event.changes["body_site"] == ["back", "face"]
    assert event.changes["diagram_x"] == [None, 0.25]


@pytest.mark.parametrize("chosen_site, expected", [(BodySite.UNKNOWN, BodySite.FACE), (BodySite.SCALP, BodySite.SCALP)])
def test_a_new_lesion_pinned_on_the_diagram_takes_the_site_under_its_pin_unless_one_was_chosen(
    people, chosen_site, expected
):
    pin = {"diagram_x": "0.25", "diagram_y": "0.09"}
    page = signed_in(people.clinician_a).post(
        f"/patients/{people.patient_a.pk}/",
        {"body_site": chosen_site, "label": "on the page", "follow_up_unit": "months", **pin},
    )
    assert page.status_code == 302
    api = api_client(people.clinician_a).post(
        "/api/lesions/", {"patient": people.patient_a.pk, "body_site": chosen_site, "label": "by the API", **pin}
    )
    assert api.status_code == 201, api.content
    sites = dict(Lesion.objects.filter(label__in=["on the page", "by the API"]).values_list("label", "body_site"))
    assert sites == {"on the page": expected, "by the API": expected}


def test_the_lesion_page_shows_the_pin_where_it_is(people):
    Lesion.objects.filter(pk=people.lesion_a.pk).update(diagram_x=0.3, diagram_y=0.4)
    page = signed_in(people.clinician_a).get(f"/lesions/{people.lesion_a.pk}/").content.decode()
    assert 'id="body-diagram"' in page
    assert re.search(r'name="diagram_x" value="0.3"', page)


def test_a_clinician_edits_a_patients_details_on_a_page_and_the_change_is_audited(people):
    patient = people.patient_a
    patient.date_of_birth = date(1970, 3, 4)
    patient.save()
    client = signed_in(people.clinician_a)
    form = client.get(f"/patients/{patient.pk}/edit/").content.decode()
    assert 'value="1970-03-04"' in form  # an <input type=date> reads only ISO dates
    answer = client.post(
        f"/patients/{patient.pk}/edit/",
        {
            "medical_record_number": patient.medical_record_number,
            "first_name": "Corrected",
            "last_name": patient.last_name,
            "date_of_birth": "1970-03-05",
            "sex": patient.sex,
        },
    )
    assert answer.status_code == 302
    patient.refresh_from_db()
    assert (patient.first_name, patient.date_of_birth) == ("Corrected", date(1970, 3, 5))
    event = AuditEvent.objects.get(path=f"/patients/{patient.pk}/edit/", method="POST")
    assert event.changes["first_name"][1] == "Corrected"
    assert event.changes["date_of_birth"] == ["1970-03-04", "1970-03-05"]


def test_a_patient_edit_is_refused_with_the_reason_and_changes_nothing(people):
    other = PatientFactory(clinic=people.clinic_a)
    patient = people.patient_a
    answer = signed_in(people.clinician_a).post(
        f"/patients/{patient.pk}/edit/",
        {
            "medical_record_number": other.medical_record_number,
            "first_name": "X",
            "last_name": "Y",
            "date_of_birth": "2999-01-01",
            "sex": "female",
        },
    )
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "Another patient of this clinic already has this record number." in page
    assert "This date is in the future" in page
    assert 'value="X"' in page  # what was typed is kept for correcting
    patient.refresh_from_db()
    assert patient.first_name != "X"
    assert signed_in(people.clinician_b).get(f"/patients/{patient.pk}/edit/").status_code == 404
    assert signed_in(people.patient_a_user).post(f"/patients/{patient.pk}/edit/", {}).status_code == 403


def test_correcting_a_confirmed_diagnosis_keeps_its_date(people):
    lesion = people.lesion_a
    confirm_diagnosis(
        lesion=lesion, recorded_by=people.clinician_a, dx="nv", dx_type="histo", confirmed_on=date(2026, 2, 3)
    )
    client = signed_in(people.clinician_a)
    page = client.get(f"/lesions/{lesion.pk}/").content.decode()
    shown = re.search(r'<input type="date" name="confirmed_on" value="([^"]*)"', page)
    assert shown and shown.group(1) == "2026-02-03"
    answer = client.post(
        f"/lesions/{lesion.pk}/diagnosis/", {"dx": "mel", "dx_type": "histo", "confirmed_on": shown.group(1)}
    )
    assert answer.status_code == 302
    assert ConfirmedDiagnosis.objects.get(lesion=lesion).confirmed_on == date(2026, 2, 3)


def test_moving_a_photo_remeasures_the_changes_that_depended_on_it(people, remeasured):
    first, middle, last = growing_photos(people.lesion_a, people.clinician_a, months=(1, 2, 3))
    target = LesionFactory(patient=people.patient_a)
    earlier_there, later_there = growing_photos(target, people.clinician_a, months=(1, 2), day=15)
    as_measured(first, middle, last)
    as_measured(earlier_there, later_there)
    assert ChangeAcknowledgement.objects.filter(image__in=[middle, last, later_there]).count() == 3

    correction = correct_photo(image=middle, changed_by=people.clinician_a, lesion_id=target.pk)

    assert correction.changes == {"lesion_id": [people.lesion_a.pk, target.pk]}
    # The old lesion's next photo now follows `first`; in the new lesion the moved photo follows `earlier_there`
    # and `later_there` follows it: all three are measured again, and their flags wait to be acknowledged anew.
    assert sorted(remeasured) == sorted([last.pk, middle.pk, later_there.pk])
    for image in (last, middle, later_there):
        image.refresh_from_db()
        assert (image.change_status, image.change_from_previous) == (LesionImage.Status.QUEUED, None)
        assert not ChangeAcknowledgement.objects.filter(image=image).exists()
    assert ChangeAcknowledgement.objects.filter(image=earlier_there).count() == 0  # the first photo never had one
    assert list(target.images.order_by("captured_at")) == [earlier_there, middle, later_there]


def test_a_photo_moves_only_to_a_lesion_of_the_same_patient(people, remeasured):
    image = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at="2026-01-01T10:00:00Z"
    )
    with pytest.raises(ValidationError, match="same patient"):
        correct_photo(image=image, changed_by=people.clinician_a, lesion_id=people.lesion_b.pk)
    with pytest.raises(PermissionDenied):
        correct_photo(image=image, changed_by=people.clinician_b, lesion_id=people.lesion_a.pk)
    image.refresh_from_db()
    assert image.lesion_id == people.lesion_a.pk


def test_the_api_moves_and_redates_a_photo_with_clear_refusals(people, remeasured):
    image = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at="2026-01-01T10:00:00Z"
    )
    other_lesion = LesionFactory(patient=people.patient_a)
    client = api_client(people.clinician_a)
    refused = client.patch(f"/api/images/{image.pk}/", {"lesion": people.lesion_b.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"lesion": ["A photo can only move to another lesion of the same patient."]}
    future = (timezone.now() + timedelta(days=3)).isoformat()
    refused = client.patch(f"/api/images/{image.pk}/", {"captured_at": future}, format="json")
    assert refused.status_code == 400 and "in the future" in refused.json()["captured_at"][0]
    assert client.patch(f"/api/images/{image.pk}/", {}, format="json").status_code == 400

    moved = client.patch(
        f"/api/images/{image.pk}/", {"lesion": other_lesion.pk, "captured_at": "2026-01-02T09:00:00Z"}, format="json"
    )
    assert moved.status_code == 200
    assert (moved.json()["lesion"], moved.json()["captured_at"][:10]) == (other_lesion.pk, "2026-01-02")
    event = AuditEvent.objects.filter(method="PATCH", target=f"lesion image {image.pk}", status_code=200).get()
    assert event.changes["lesion_id"] == [people.lesion_a.pk, other_lesion.pk]
    assert event.changes["captured_at"][0].startswith("2026-01-01T10:00:00")
    assert (
        api_client(people.patient_a_user)
        .patch(f"/api/images/{image.pk}/", {"captured_at": "2026-01-03T09:00:00Z"}, format="json")
        .status_code
        == 403
    )


def test_the_photo_page_redates_a_photo_and_refuses_the_future(people, remeasured):
    image = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at="2026-01-01T10:00:00Z"
    )
    client = signed_in(people.clinician_a)
    url = f"/photos/{image.pk}/edit/"
    refused = client.post(url, {"lesion": people.lesion_a.pk, "captured_at": "2999-01-01T10:00"})
    assert refused.status_code == 400 and "This date is in the future" in refused.content.decode()
    answer = client.post(url, {"lesion": people.lesion_a.pk, "captured_at": "2025-12-24T10:00"})
    assert answer.status_code == 302
    image.refresh_from_db()
    assert image.captured_at.date() == date(2025, 12, 24)


def test_a_deleted_photo_leaves_every_list_and_an_admin_restores_it(people, remeasured):
    first, second = (
        LesionImageFactory(
            lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=f"2026-0{month}-01T10:00:00Z"
        )
        for month in (1, 2)
    )
    client = api_client(people.clinician_a)
    assert review_queue_counts(people.clinician_a)["photos"] == 2

    assert client.delete(f"/api/images/{second.pk}/").status_code == 204

    assert client.get(f"/api/images/{second.pk}/").status_code == 404
    assert [row["id"] for row in client.get("/api/images/").json()["results"]] == [first.pk]
    assert [row["id"] for row in client.get(f"/api/lesions/{people.lesion_a.pk}/timeline/").json()["images"]] == [
        first.pk
    ]
    assert review_queue_counts(people.clinician_a)["photos"] == 1
    lesion_page = signed_in(people.clinician_a).get(f"/lesions/{people.lesion_a.pk}/").content.decode()
    assert f'id="photo-{first.pk}"' in lesion_page and f'id="photo-{second.pk}"' not in lesion_page
    assert AuditEvent.objects.get(method="DELETE", status_code=204).changes["deleted_at"][0] is None

    with pytest.raises(PermissionDenied):
        restore_photo(image=second, restored_by=people.clinician_a)
    listed = signed_in(people.admin_a).get("/deleted/")
    assert f"Restore photo {second.pk}" in listed.content.decode()
    assert api_client(people.admin_a).post(f"/api/images/{second.pk}/restore/").status_code == 200
    assert client.get(f"/api/images/{second.pk}/").status_code == 200


def test_deleting_the_photo_before_a_measured_one_remeasures_the_one_after(people, remeasured):
    first, middle, last = growing_photos(people.lesion_a, people.clinician_a, months=(1, 2, 3))
    as_measured(first, middle, last)
    delete_photo(image=middle, deleted_by=people.clinician_a)
    assert remeasured == [last.pk]
    # The worker measures `last` against `first`; restoring `middle` puts it between them again.
    pipeline.measure_change(image_pk=last.pk)
    last.refresh_from_db()
    assert (last.change_status, last.change_from_previous["before_id"]) == (LesionImage.Status.DONE, first.pk)
    remeasured.clear()
    restore_photo(image=middle, restored_by=people.admin_a)
    assert remeasured == [last.pk]


def test_a_deleted_lesion_takes_its_photos_and_comes_back_with_them(people, remeasured):
    lesion = people.lesion_a
    kept, deleted_before = (
        LesionImageFactory(lesion=lesion, uploaded_by=people.clinician_a, captured_at=f"2026-0{month}-01T10:00:00Z")
        for month in (1, 2)
    )
    delete_photo(image=deleted_before, deleted_by=people.clinician_a)
    client = api_client(people.clinician_a)

    assert client.delete(f"/api/lesions/{lesion.pk}/").status_code == 204

    assert client.get(f"/api/lesions/{lesion.pk}/").status_code == 404
    assert not LesionImage.objects.filter(lesion_id=lesion.pk).exists()
    assert (
        signed_in(people.clinician_a)
        .get(f"/patients/{people.patient_a.pk}/")
        .content.decode()
        .count(f"/lesions/{lesion.pk}/")
        == 0
    )
    # A photo of a deleted lesion is restored with its lesion, not on its own.
    with pytest.raises(ValidationError):
        restore_photo(image=kept, restored_by=people.admin_a)
    answer = signed_in(people.admin_a).post(f"/deleted/lesions/{lesion.pk}/restore/")
    assert answer.status_code == 302
    assert list(LesionImage.objects.filter(lesion_id=lesion.pk)) == [kept]  # the photo deleted before stays deleted
    assert api_client(people.clinician_b).delete(f"/api/lesions/{lesion.pk}/").status_code == 404


def test_a_deletion_older_than_30_days_is_restored_no_more_and_purged_with_its_files(
    people, isolated_media, remeasured, django_capture_on_commit_callbacks
):
    old, recent, kept = (
        LesionImageFactory(
            lesion=people.lesion_a,
            uploaded_by=people.clinician_a,
            captured_at=f"2026-0{month}-01T10:00:00Z",
            outlined=True,
        )
        for month in (1, 2, 3)
    )
    old_lesion = LesionFactory(patient=people.patient_a)
    old_lesion_photo = LesionImageFactory(
        lesion=old_lesion, uploaded_by=people.clinician_a, captured_at="2026-01-01T10:00:00Z", outlined=True
    )
    delete_photo(image=old, deleted_by=people.clinician_a)
    delete_photo(image=recent, deleted_by=people.clinician_a)
    delete_lesion(lesion=old_lesion, deleted_by=people.clinician_a)
    long_ago = timezone.now() - timedelta(days=31)
    LesionImage.with_deleted.filter(pk__in=[old.pk, old_lesion_photo.pk]).update(deleted_at=long_ago)
    Lesion.with_deleted.filter(pk=old_lesion.pk).update(deleted_at=long_ago)
    files_of = {
        image.pk: {image.image.name, image.thumbnail.name, image.mask.name}
        for image in (old, recent, kept, old_lesion_photo)
    }
    with pytest.raises(ValidationError, match="too long ago"):
        restore_photo(image=old, restored_by=people.admin_a)
    with pytest.raises(ValidationError, match="too long ago"):
        restore_lesion(lesion=old_lesion, restored_by=people.admin_a)

    with django_capture_on_commit_callbacks(execute=True):
        assert purge_deleted(now=timezone.now()) == {"photos": 2, "lesions": 1}

    left = set(stored_files(isolated_media))
    assert not (files_of[old.pk] | files_of[old_lesion_photo.pk]) & left
    assert files_of[recent.pk] | files_of[kept.pk] <= left
    assert set(LesionImage.with_deleted.values_list("pk", flat=True)) == {recent.pk, kept.pk}
    assert not Lesion.with_deleted.filter(pk=old_lesion.pk).exists()
    assert purge_deleted(now=timezone.now()) == {"photos": 0, "lesions": 0}


def test_celery_beat_runs_the_purge_daily(people, settings, remeasured):
    from lesions.tasks import purge_deleted_task

    assert settings.CELERY_BEAT_SCHEDULE["purge-deleted"]["task"] == purge_deleted_task.name
    image = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at="2026-01-01T10:00:00Z"
    )
    delete_photo(image=image, deleted_by=people.clinician_a)
    LesionImage.with_deleted.filter(pk=image.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    purge_deleted_task.apply()
    assert not LesionImage.with_deleted.filter(pk=image.pk).exists()

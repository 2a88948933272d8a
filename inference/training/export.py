"""Export a trained classifier for serving: `python -m inference.training.export --run lite0`.

Writes, side by side in the artefacts folder: `<name>.onnx` (what the worker runs, with ONNX
Runtime and no TensorFlow), `<name>.keras` (the trained Keras model) and `<name>.json` (the
metadata `Classifier.load` reads: version, input size, labels, temperatures, validation figures).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from pathlib import Path

from inference.paths import ARTIFACTS_DIR, REPORTS_DIR, RUNS_DIR
from inference.serving.labels import CLASSES, DX_TYPES, MALIGNANT_CLASSES
from inference.serving.preprocessing import PIXEL_OFFSET, PIXEL_SCALE

log = logging.getLogger("inference.training.export")

SERVING_NAME = "skin-lite0"
ONNX_OPSET = 17
OUTPUTS = ("diagnosis", "dx_type")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def to_onnx(model, onnx_path: Path) -> None:
    """Convert through a tf.function with a fixed signature; outputs are the two logit tensors."""
    import tensorflow as tf
    import tf2onnx

    size = model.input_shape[1]
    signature = (tf.TensorSpec((None, size, size, 3), tf.float32, name="image"),)

    @tf.function(input_signature=signature)
    def serve(image):
        logits = model(image, training=False)
        return [tf.identity(logits[name], name=name) for name in OUTPUTS]

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=ONNX_OPSET)
    # Name the graph outputs after the heads so the serving side never depends on converter naming.
    renamed = dict(zip([output.name for output in proto.graph.output], OUTPUTS, strict=True))
    for node in proto.graph.node:
        node.output[:] = [renamed.get(name, name) for name in node.output]
    for output in proto.graph.output:
        output.name = renamed[output.name]
    onnx_path.write_bytes(proto.SerializeToString())


def _drop_compile_config(config):
    if isinstance(config, dict):
        config.pop("compile_config", None)
        for value in config.values():
            _drop_compile_config(value)
    elif isinstance(config, list):
        for value in config:
            _drop_compile_config(value)


def inference_copy(model):
    """The same weights in a model that was never compiled, so the saved file carries no optimizer state.

    Training compiles the nested top model; its compile config would rebuild (and save) Adam's moments.
    """
    config = model.get_config()
    _drop_compile_config(config)
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def export_serving(model, *, out_dir: Path, summary: dict, name: str = SERVING_NAME) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path, keras_path = out_dir / f"{name}.onnx", out_dir / f"{name}.keras"
    to_onnx(model, onnx_path)
    inference_copy(model).save(keras_path)
    metrics = {key: value for key, value in summary["metrics"].items() if key != "confusion_matrix"}
    metadata = {
        "name": name,
        "version": summary["version"],
        "architecture": "EfficientNet-Lite0 (ImageNet start) with diagnosis and dx_type heads"
        if summary["arch"] == "lite0"
        else summary["arch"],
        "input": {
            "size": model.input_shape[1],
            "layout": "NHWC",
            "dtype": "float32",
            "framing": "centre square crop, bilinear resize",
            "scaling": f"(pixel - {PIXEL_OFFSET:g}) / {PIXEL_SCALE:g}",
        },
        "outputs": {"diagnosis": "logits", "dx_type": "logits"},
        "classes": list(CLASSES),
        "dx_types": list(DX_TYPES),
        "malignant_classes": list(MALIGNANT_CLASSES),
        "temperature": summary["temperature"],
        "validation": {
            "split": "inference/splits/ham10000_split.csv (validation, lesion-grouped)",
            "n_images": summary["n_validation"],
        },
        "metrics": metrics,
        "files": {
            "onnx": onnx_path.name,
            "onnx_sha256": sha256_of(onnx_path),
            "keras": keras_path.name,
            "keras_sha256": sha256_of(keras_path),
        },
        "licence": "CC BY-NC 4.0 (inherited from the HAM10000 training data)",
        "training_config": summary["config"],
    }
    metadata_path = onnx_path.with_suffix(".json")
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    log.info("exported %s (%s)", onnx_path, summary["version"])
    return onnx_path


def main(argv: list[str] | None = None) -> None:
    import keras

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", default="lite0")
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR)
    parser.add_argument("--out-dir", type=Path, default=ARTIFACTS_DIR)
    parser.add_argument("--version", default="", help="override the version recorded at training time")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    summary = json.loads((REPORTS_DIR / f"{args.run}-summary.json").read_text())
    if args.version:
        summary["version"] = args.version
    model = keras.saving.load_model(args.runs_dir / args.run / "model.keras", compile=False)
    export_serving(model, out_dir=args.out_dir, summary=summary)


if __name__ == "__main__":
    main()

"""The --model and --threads options the classification commands share."""

from django.core.management.base import CommandError

from inference import Classifier, ModelLoadError
from lesions.registry import classifier_for


def add_model_argument(parser) -> None:
    parser.add_argument(
        "--model",
        default="",
        help="a model version found in the artefacts folder, or the path of an .onnx file; default: the served model",
    )
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads; default: SKINTRACK_MODEL_THREADS")


def load_named_classifier(*, model: str, threads: int) -> Classifier:
    try:
        return classifier_for(version=model, threads=threads)
    except ModelLoadError as error:
        raise CommandError(str(error)) from error

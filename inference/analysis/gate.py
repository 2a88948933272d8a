"""The photo gate: is this upload a usable dermoscopic photo of a skin lesion, fit for the classifier?

The classifier answers for anything it is given (a screenshot of the dashboard once scored malignancy 48%), so
every upload passes through here first. numpy + scipy only, at a fixed small working size so that it costs a few
milliseconds and means the same for any input size.

Each check is one measured feature against a threshold, or a small logistic model over several ("does this look
like a dermoscopic photo at all", "is the lesion cut off"). They are fitted by
`python -m inference.training.gate_eval --fit` on the training split and a training half of the out-of-distribution
set, and stored in inference/artifacts/photo-gate.json; the figures on the validation split and the other half are
in the model card.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from inference.analysis.color import rgb_to_lab
from inference.analysis.segmentation import _border_band, _otsu, dark_vignette
from inference.analysis.sizes import GATE_LONG_SIDE
from inference.paths import GATE_PATH
from inference.serving.preprocessing import ImageInput, load_rgb

BORDER_BAND = 0.08
SIDE_BAND = 0.2
CENTRE_FRACTION = 0.5
# Lab distance from the skin below which a region is not a lesion, however the threshold falls.
LESION_MIN_CONTRAST = 8.0

RETAKE_PROMPT = (
    "Please retake the photo with the dermatoscope: the lesion in the middle of the frame, in focus, evenly lit. "
    "A clinician can still ask for the model's answer on this photo."
)


@dataclass(frozen=True)
class PhotoFeatures:
    """What the gate measures on a photo. The names are what the stored parameters refer to."""

    sharpness: float  # standard deviation of the Laplacian of L* in the centre (blur lowers it)
    bright_lightness: float  # the 90th percentile of L* (the skin around a dark lesion): under-exposure lowers it
    clipped: float  # fraction of the centre washed out (two or more channels >= 250): over-exposure
    flat: float  # fraction of the content whose neighbourhood is exactly one colour: documents, UI
    neutral: float  # fraction of the content without colour (chroma < 6): paper, UI grey, black-and-white
    skin: float  # fraction of the content with a skin-like hue and lightness
    saturated: float  # fraction of the content with a chroma above 60: UI accents, logos, not skin
    colours: float  # distinct colours per content pixel at 5 bits per channel: photos have many
    edge_density: float  # fraction of the content on strong edges (text, tables and UI have many)
    lesion_area: float  # fraction of the content taken by the lesion
    lesion_offset: float  # how far the lesion's centre lies from the photo's, 0 (centre) to 1 (edge)
    lesion_border: float  # fraction of the frame's edge that the lesion touches
    lesion_contrast: float  # median Lab distance between the lesion and the skin
    edge_darkness: float  # the most lesion-like side of the frame against the centre: above 0.5, the side wins
    side_imbalance: float  # the most against the least lesion-like side: 0 when the sides look alike

    def as_vector(self, names: tuple[str, ...]) -> np.ndarray:
        return np.array([getattr(self, name) for name in names], dtype=np.float64)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reasons: tuple[Reason, ...] = ()
    prompt: str = ""
    features: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "reasons": [asdict(reason) for reason in self.reasons],
            "prompt": self.prompt,
            "features": {name: round(value, 4) for name, value in self.features.items()},
        }


# code -> (feature, direction, what a person reads). "below" gates a photo whose feature is under the threshold.
THRESHOLD_CHECKS = {
    "blurred": ("sharpness", "below", "The photo is blurred: the lesion's detail is not visible."),
    "too_dark": ("bright_lightness", "below", "The photo is too dark."),
    "overexposed": ("clipped", "above", "The photo is over-exposed: much of it is washed out to white."),
    "lesion_too_small": ("lesion_area", "below", "No lesion could be found, or it is too small in the frame."),
}
# code -> what a person reads, for the checks made by a small fitted model over several features.
MODEL_CHECKS = {
    "not_dermoscopic": "This does not look like a dermoscopic photo of skin (it may be a screenshot, a document or "
    "another picture).",
    "lesion_cut_off": "The lesion is not in the middle of the photo; it may be cut off by the edge.",
}
PHOTO_FAULTS = {"not_dermoscopic", "blurred", "too_dark", "overexposed"}
LESION_FAULTS = {"lesion_cut_off", "lesion_too_small"}
CLINICAL_PHOTO = Reason(
    "clinical_photo",
    "This is a plain camera photo; the model was trained on dermoscopic photos only, so its answer would not be "
    "reliable.",
)


@dataclass(frozen=True)
class LogisticCheck:
    """A logistic model over some features (on a log scale, with their pairwise products when `degree` is 2,
    standardised); above `threshold` the check fails."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    degree: int = 1

    def score(self, features: PhotoFeatures) -> float:
        inputs = model_inputs(features.as_vector(self.features)[None, :], degree=self.degree)[0]
        return float((inputs - self.mean) / self.scale @ np.asarray(self.weights) + self.bias)

    def fails(self, features: PhotoFeatures) -> bool:
        return self.score(features) > self.threshold


@dataclass(frozen=True)
class GateParameters:
    """Fitted by inference.training.gate_eval: a threshold per THRESHOLD_CHECKS entry, a model per MODEL_CHECKS
    entry."""

    thresholds: dict[str, float]
    models: dict[str, LogisticCheck]

    @classmethod
    def from_dict(cls, data: dict) -> GateParameters:
        models = {
            code: LogisticCheck(
                **{key: tuple(value) if isinstance(value, list) else value for key, value in model.items()}
            )
            for code, model in data["models"].items()
        }
        return cls(thresholds=dict(data["thresholds"]), models=models)

    def as_dict(self) -> dict:
        return asdict(self)


def model_inputs(rows: np.ndarray, *, degree: int) -> np.ndarray:
    """(n, features) -> the logistic model's inputs: the features on a log scale (fractions and contrasts spread
    over orders of magnitude), then for degree 2 every product of two of them (i <= j)."""
    logs = np.log(np.asarray(rows, dtype=np.float64) + 1e-3)
    if degree == 1:
        return logs
    first, second = np.triu_indices(logs.shape[1])
    return np.concatenate([logs, logs[:, first] * logs[:, second]], axis=1)


@functools.cache
def shipped_parameters(path: Path = GATE_PATH) -> GateParameters:
    return GateParameters.from_dict(json.loads(path.read_text()))


def check_photo(
    image: ImageInput, *, modality: str = "dermoscopic", parameters: GateParameters | None = None
) -> GateVerdict:
    """Passed, or gated with the reasons a person reads and a prompt to retake."""
    return judge(measure(load_rgb(image)), modality=modality, parameters=parameters or shipped_parameters())


def judge(features: PhotoFeatures, *, modality: str, parameters: GateParameters) -> GateVerdict:
    reasons = []
    if modality == "clinical":
        reasons.append(CLINICAL_PHOTO)
    for code, message in MODEL_CHECKS.items():
        if parameters.models[code].fails(features):
            reasons.append(Reason(code, message))
    for code, (name, direction, message) in THRESHOLD_CHECKS.items():
        value, threshold = getattr(features, name), parameters.thresholds[code]
        if value < threshold if direction == "below" else value > threshold:
            reasons.append(Reason(code, message))
    if any(reason.code in PHOTO_FAULTS for reason in reasons):
        # The rough lesion outline means little on a blurred, badly exposed or non-skin picture: the person reads
        # what to fix first, not a guess about the lesion.
        reasons = [reason for reason in reasons if reason.code not in LESION_FAULTS]
    return GateVerdict(
        passed=not reasons,
        reasons=tuple(reasons),
        prompt=RETAKE_PROMPT if reasons else "",
        features=asdict(features),
    )


def working_copy(image: Image.Image) -> np.ndarray:
    scale = GATE_LONG_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BOX), dtype=np.uint8)


def measure(image: Image.Image) -> PhotoFeatures:
    rgb = working_copy(image)
    height, width = rgb.shape[:2]
    lab = rgb_to_lab(rgb)
    lightness = lab[..., 0]
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    # The dermoscope's black vignette is no part of the photo's content: it is left out of every statistic.
    content = ~dark_vignette(lightness)
    if content.sum() < 0.05 * content.size:
        content = np.ones_like(content)

    centre = np.zeros_like(content)
    margin_y, margin_x = round(height * (1 - CENTRE_FRACTION) / 2), round(width * (1 - CENTRE_FRACTION) / 2)
    centre[margin_y : height - margin_y, margin_x : width - margin_x] = True

    laplacian = ndimage.laplace(ndimage.gaussian_filter(lightness, 0.5))
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    flat = ndimage.maximum_filter(packed, size=3) == ndimage.minimum_filter(packed, size=3)
    gradient = np.hypot(ndimage.sobel(lightness, axis=0), ndimage.sobel(lightness, axis=1))
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))
    skin = (lightness > 20) & (lightness < 95) & (chroma > 6) & (hue > 0) & (hue < 100)
    quantised = (rgb[content] >> 3).astype(np.int32)
    colours = np.unique(quantised[:, 0] * 1024 + quantised[:, 1] * 32 + quantised[:, 2]).size

    lesion = lesion_region(lab, content)
    return PhotoFeatures(
        sharpness=float(laplacian[centre].std()),
        bright_lightness=float(np.quantile(lightness[content], 0.9)),
        clipped=float(((rgb[centre] >= 250).sum(axis=1) >= 2).mean()),
        flat=float(flat[content].mean()),
        neutral=float((chroma[content] < 6).mean()),
        skin=float(skin[content].mean()),
        saturated=float((chroma[content] > 60).mean()),
        colours=float(colours / content.sum()),
        edge_density=float((gradient[content] > 80).mean()),
        **lesion,
    )


def lesion_region(lab: np.ndarray, content: np.ndarray) -> dict[str, float]:
    """A rough lesion outline (the region that differs most from the skin at the frame's edge), enough to tell
    a lesion in the middle from one cut off or missing. The worker's segmentation draws the real outline."""
    height, width = content.shape
    edge = _border_band(content.shape, BORDER_BAND)
    edge_pixels = lab[edge & content]
    if not len(edge_pixels):
        edge_pixels = lab[content]
    # The skin is the lighter part of the edge: a lesion running off the edge is darker.
    skin_colour = np.median(edge_pixels[edge_pixels[:, 0] >= np.median(edge_pixels[:, 0])], axis=0)
    difference = lab - skin_colour
    distance = ndimage.gaussian_filter(
        np.sqrt((0.7 * difference[..., 0]) ** 2 + (difference[..., 1:] ** 2).sum(-1)), 1.0
    )
    placement = lesion_placement(distance, content)
    threshold = max(_otsu(distance[content]), LESION_MIN_CONTRAST)
    labels, count = ndimage.label((distance > threshold) & content)
    if not count:
        return {"lesion_area": 0.0, "lesion_offset": 1.0, "lesion_border": 0.0, "lesion_contrast": 0.0, **placement}
    areas = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
    region = labels == 1 + int(np.argmax(areas))
    rows, cols = np.nonzero(region)
    offset = max(abs(rows.mean() - (height - 1) / 2) / (height / 2), abs(cols.mean() - (width - 1) / 2) / (width / 2))
    frame = np.concatenate([region[0], region[-1], region[:, 0], region[:, -1]])
    return {
        "lesion_area": float(region.sum() / content.sum()),
        "lesion_offset": float(offset),
        "lesion_border": float(frame.mean()),
        "lesion_contrast": float(np.median(distance[region])),
        **placement,
    }


def lesion_placement(distance: np.ndarray, content: np.ndarray) -> dict[str, float]:
    """Where the photo differs from the skin: in the centre (a framed lesion) or at one side (a lesion cut off).
    Measured on the distance map itself, so it holds when the rough outline does not."""
    height, width = content.shape
    band = max(1, round(min(height, width) * SIDE_BAND))
    centre = np.zeros_like(content)
    centre[height // 4 : height - height // 4, width // 4 : width - width // 4] = True
    sides = (np.s_[:band, :], np.s_[-band:, :], np.s_[:, :band], np.s_[:, -band:])
    side_means = [mean_over(distance[side], content[side]) for side in sides]
    strongest, weakest, centre_mean = max(side_means), min(side_means), mean_over(distance, content & centre)
    return {
        "edge_darkness": strongest / (strongest + centre_mean + 1e-6),
        "side_imbalance": (strongest - weakest) / (strongest + weakest + 1e-6),
    }


def mean_over(values: np.ndarray, where: np.ndarray) -> float:
    return float(values[where].mean()) if where.any() else 0.0

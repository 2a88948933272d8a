from django import template

from inference.serving.labels import CLASS_NAMES
from lesions.display import probability_text
from lesions.triage import ATTENTION_MALIGNANCY

register = template.Library()

DX_TYPE_NAMES = {
    "histo": "histopathology (biopsy)",
    "follow_up": "follow-up over time",
    "consensus": "expert consensus",
    "confocal": "confocal microscopy",
}


@register.filter
def percent(value, digits: int = 0) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def probability(value) -> str:
    """A model's probability as people should read it (see lesions.display); no value reads as a dash."""
    return "—" if value is None or value == "" else probability_text(value)


@register.filter
def class_name(code: str) -> str:
    return CLASS_NAMES.get(code, code)


@register.filter
def dx_type_name(code: str) -> str:
    return DX_TYPE_NAMES.get(code, code.replace("_", " "))


@register.filter
def probability_items(probabilities: dict, order) -> list[tuple[str, float]]:
    """The classes in a fixed order, so bars line up from one photo to the next."""
    return [(code, float(probabilities.get(code, 0.0))) for code in order]


@register.filter
def sorted_items(mapping: dict) -> list[tuple[str, float]]:
    return sorted(mapping.items(), key=lambda item: -item[1])


@register.filter
def signed_percent(value) -> str:
    """A change in probability in percentage points; one that rounds to nothing reads 0, never -0."""
    points = round(float(value) * 100)
    return f"{points:+d} pts" if points else "0 pts"


@register.filter
def is_high(malignancy) -> bool:
    return malignancy is not None and malignancy >= ATTENTION_MALIGNANCY

"""Geometry of the lesion page's inline SVG chart: malignancy score and lesion area (relative to the first photo,
corrected for zoom) against the date taken.

Drawn on the server so the chart needs no script and reads the same to a screen reader (a table follows it).
"""

import math
from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 56, 16, 36


@dataclass(frozen=True)
class Sample:
    """One photo's figures: its malignancy score, and its lesion's area relative to the first photo's (corrected for
    zoom; None where the chain of alignments is broken) and in mm² where the photo's scale is known."""

    when: datetime
    malignancy: float | None
    relative_area: float | None = None
    area_mm2: float | None = None


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    when: datetime
    value: float
    joined: bool = True  # a line joins it to the previous point (not across a gap)
    area_mm2: float | None = None


@dataclass(frozen=True)
class Series:
    name: str
    points: list[Point]
    axis_max: float

    @property
    def path(self) -> str:
        return " ".join(
            f"{'L' if point.joined and index else 'M'}{point.x:.1f},{point.y:.1f}"
            for index, point in enumerate(self.points)
        )


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    malignancy: Series
    area: Series
    x_ticks: list[tuple[float, str]]
    rows: list[Sample]
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def is_empty(self) -> bool:
        return not self.malignancy.points and not self.area.points

    @property
    def y_ticks(self) -> list[tuple[float, str, str]]:
        """Left axis: malignancy 0..1; right axis: area on its own scale, at the same heights."""
        return [
            (self._y(fraction), f"{fraction:.0%}", _area_label(fraction * self.area.axis_max))
            for fraction in (0, 0.25, 0.5, 0.75, 1)
        ]

    def _y(self, fraction: float) -> float:
        return self.plot_bottom - fraction * (self.plot_bottom - self.plot_top)


def _area_label(value: float) -> str:
    return "×" + f"{value:.2f}".rstrip("0").rstrip(".")


def timeline_chart(samples: list[Sample]) -> Chart:
    plot_left, plot_right, plot_top, plot_bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    times = [sample.when.timestamp() for sample in samples]
    start, end = (min(times), max(times)) if times else (0.0, 0.0)
    span = end - start

    def x_of(when: datetime) -> float:
        if span == 0:
            return (plot_left + plot_right) / 2
        return plot_left + (when.timestamp() - start) / span * (plot_right - plot_left)

    def series(name: str, values: list[tuple[Sample, float | None]], axis_max: float) -> Series:
        """A point for each value; a missing value leaves a gap in the line."""
        height = plot_bottom - plot_top
        points, joined = [], True
        for sample, value in values:
            if value is None:
                joined = False
                continue
            y = round(plot_bottom - value / axis_max * height, 1)
            points.append(Point(round(x_of(sample.when), 1), y, sample.when, value, joined, sample.area_mm2))
            joined = True
        return Series(name=name, points=points, axis_max=axis_max)

    scores = [(sample, sample.malignancy) for sample in samples if sample.malignancy is not None]
    areas = [(sample, sample.relative_area) for sample in samples]
    area_max = _nice_ceiling(max((area for _, area in areas if area is not None), default=0.0))
    tick_times = sorted({sample.when for sample in samples}, key=lambda when: when.timestamp())
    if len(tick_times) > 6:
        step = (len(tick_times) - 1) / 5
        tick_times = [tick_times[round(index * step)] for index in range(6)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        malignancy=series("Malignancy score", scores, 1.0),
        area=series("Lesion area (relative to the first photo)", areas, area_max),
        x_ticks=[(round(x_of(when), 1), f"{when:%Y-%m-%d}") for when in tick_times],
        rows=samples,
    )


def _nice_ceiling(value: float) -> float:
    """A round axis maximum at or above value (a ratio: x1 for the first photo), so the area axis labels read
    cleanly."""
    for ceiling in (1.0, 1.25, 1.5, 2.0, 3.0, 4.0):
        if value <= ceiling:
            return ceiling
    return float(math.ceil(value / 4) * 4)

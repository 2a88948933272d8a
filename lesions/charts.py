"""Geometry of the lesion page's inline SVG chart: malignancy score and lesion area against the date taken.

Drawn on the server so the chart needs no script and reads the same to a screen reader (a table follows it).
"""

from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 56, 16, 36


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    when: datetime
    value: float


@dataclass(frozen=True)
class Series:
    name: str
    points: list[Point]
    axis_max: float

    @property
    def path(self) -> str:
        steps = [f"{point.x:.1f},{point.y:.1f}" for point in self.points]
        return "M" + " L".join(steps) if steps else ""


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    malignancy: Series
    area: Series
    x_ticks: list[tuple[float, str]]
    rows: list[tuple[datetime, float | None, float | None]]
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
    return f"{value:.1%}"


def timeline_chart(samples: list[tuple[datetime, float | None, float | None]]) -> Chart:
    """samples: (date taken, malignancy score or None, lesion area as a fraction of the photo or None)."""
    plot_left, plot_right, plot_top, plot_bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    times = [when.timestamp() for when, _, _ in samples]
    start, end = (min(times), max(times)) if times else (0.0, 0.0)
    span = end - start

    def x_of(when: datetime) -> float:
        if span == 0:
            return (plot_left + plot_right) / 2
        return plot_left + (when.timestamp() - start) / span * (plot_right - plot_left)

    def series(name: str, values: list[tuple[datetime, float]], axis_max: float) -> Series:
        height = plot_bottom - plot_top
        points = [
            Point(round(x_of(when), 1), round(plot_bottom - value / axis_max * height, 1), when, value)
            for when, value in values
        ]
        return Series(name=name, points=points, axis_max=axis_max)

    scores = [(when, score) for when, score, _ in samples if score is not None]
    areas = [(when, area) for when, _, area in samples if area is not None]
    area_max = _nice_ceiling(max((area for _, area in areas), default=0.0))
    tick_times = sorted({when for when, _, _ in samples}, key=lambda when: when.timestamp())
    if len(tick_times) > 6:
        step = (len(tick_times) - 1) / 5
        tick_times = [tick_times[round(index * step)] for index in range(6)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        malignancy=series("Malignancy score", scores, 1.0),
        area=series("Lesion area", areas, area_max),
        x_ticks=[(round(x_of(when), 1), f"{when:%Y-%m-%d}") for when in tick_times],
        rows=samples,
    )


def _nice_ceiling(value: float) -> float:
    """A round axis maximum at or above value, so the area axis labels read cleanly."""
    for ceiling in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0):
        if value <= ceiling:
            return ceiling
    return 1.0

"""Bounds on the dates people and photos supply.

A date after tomorrow or before 1900 is a typing slip or an attack; worse, one near the calendar's end breaks
every date computed from it (a follow-up due six months after 9999-12-31 does not exist). A day of slack allows
for a camera or phone whose clock runs ahead, and for time zones.
"""

from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

CLOCK_SKEW = timedelta(days=1)
EARLIEST_DATE = date(1900, 1, 1)
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)


def latest_plausible_moment() -> datetime:
    return timezone.now() + CLOCK_SKEW


def validate_plausible_moment(value: datetime) -> None:
    """A moment that has happened (give or take the clock skew), in 1900 or later."""
    check_between(value, earliest=EARLIEST_MOMENT, latest=latest_plausible_moment())


def validate_plausible_date(value: date) -> None:
    """A calendar date (birth, diagnosis) no later than tomorrow and in 1900 or later."""
    check_between(value, earliest=EARLIEST_DATE, latest=latest_plausible_moment().date())


def check_between(value, *, earliest, latest) -> None:
    if value > latest:
        raise ValidationError(
            "This date is in the future; enter a date no later than %(latest)s.",
            code="future_date",
            params={"latest": f"{latest:%Y-%m-%d}"},
        )
    if value < earliest:
        raise ValidationError("Dates before 1900 are not accepted; check the year.", code="ancient_date")


def is_plausible_moment(value: datetime) -> bool:
    try:
        validate_plausible_moment(value)
    except ValidationError:
        return False
    return True

from django import template

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.4213 -> '42%'; empty stays empty."""
    return "" if value is None or value == "" else f"{float(value):.0%}"


@register.filter
def decimal(value, places: int = 3) -> str:
    return "" if value is None else f"{float(value):.{int(places)}g}"

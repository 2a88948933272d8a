from django import template

register = template.Library()


@register.filter
def decimal(value, significant_digits: int = 3) -> str:
    """0.14400 -> '0.144', 60.0 -> '60', 1440.2 -> '1440': a measurement without trailing noise or exponent."""
    if value is None:
        return ""
    value = float(value)
    return f"{value:.0f}" if abs(value) >= 10 ** int(significant_digits) else f"{value:.{int(significant_digits)}g}"

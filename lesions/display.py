"""How a probability reads wherever a person sees one: pages, emails, the share page and the PDF report."""


def probability_text(value: float) -> str:
    """0.4213 -> '42%'. The model is never certain either way, so what rounds to 0% or 100% reads '<1%' or '>99%'."""
    value = float(value)
    if value < 0.01:
        return "<1%"
    if value > 0.99:
        return ">99%"
    return f"{value:.0%}"

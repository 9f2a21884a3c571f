"""Number formatting shared by the text reports."""

from __future__ import annotations


def number(value: float) -> str:
    """Three significant figures, thousands separated: 61,234 -> '61.2k'."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def mebibytes(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def interval(bounds: tuple[float, float] | None) -> str:
    if bounds is None:
        return "–"
    return f"{number(bounds[0])}–{number(bounds[1])}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"

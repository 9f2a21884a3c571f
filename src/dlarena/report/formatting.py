"""Number formatting shared by the text reports."""

from __future__ import annotations

from typing import Any

# How every report introduces an unsupported cell's reason (a recorded outcome, no failure).
UNSUPPORTED_NOTE = "unsupported here"


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


def gpus(env: dict[str, Any]) -> str:
    """A run's GPUs in words: "NVIDIA H200 (compute capability 9.0, 143771 MiB)"; names alone
    for a run that recorded only those."""
    if not env.get("gpu_identity"):
        return ", ".join(map(str, env.get("gpus") or []))
    described = []
    for gpu in env["gpu_identity"]:
        capability = gpu.get("compute_capability")
        details = [f"compute capability {capability}" if capability
                   else "compute capability not reported"]
        if gpu.get("memory_mib"):
            details.append(f"{gpu['memory_mib']} MiB")
        described.append(f"{gpu.get('name', '?')} ({', '.join(details)})")
    return ", ".join(described)

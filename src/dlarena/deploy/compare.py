"""Are two models' outputs the same? Bit for bit where a format promises it, else float32."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A float32 model computed by other kernels (a runtime, a traced graph) may differ by
# rounding: |other - reference| <= RELATIVE * max|reference| + ABSOLUTE, elementwise.
RELATIVE = 1e-4
ABSOLUTE = 1e-5
TOLERANCE_TEXT = f"|difference| <= {RELATIVE:g} * max|reference| + {ABSOLUTE:g}"


@dataclass(frozen=True)
class Agreement:
    max_abs_difference: float
    equal: bool
    # Why not, in words; empty when equal.
    reason: str = ""


def agreement(reference: np.ndarray, other: np.ndarray, *, exact: bool) -> Agreement:
    reference, other = np.asarray(reference), np.asarray(other)
    if reference.shape != other.shape:
        return Agreement(float("inf"), False,
                         f"output shape {other.shape} != the original's {reference.shape}")
    if not np.all(np.isfinite(other)):
        return Agreement(float("inf"), False, "outputs hold NaN or infinity")
    difference = float(np.max(np.abs(other.astype(np.float64) - reference.astype(np.float64)),
                              initial=0.0))
    if exact:
        same = bool(np.array_equal(reference, other))
        return Agreement(difference, same, "" if same else (
            f"not bit for bit as the format promises: max |difference| {difference:.3g}"))
    bound = RELATIVE * float(np.max(np.abs(reference), initial=0.0)) + ABSOLUTE
    close = difference <= bound
    return Agreement(difference, close, "" if close else (
        f"max |difference| {difference:.3g} exceeds the float32 tolerance {bound:.3g} "
        f"({TOLERANCE_TEXT})"))

"""Coordinator side of a parity check: compare two implementations' evidence, name what differs.

Tolerances are relative to the reference array's scale, max(1, max |reference|). The probe
computes in float64 (probe.py), where PyTorch and Keras agree to ~1e-13 on outputs and
gradients; the tolerances are the margins float32 would need, kept as they were:
- forward activations and gradients: 1e-4 (float32 sums of ~10^4 products in different
  orders differ by ~sqrt(n) * 2^-24 ~ 1e-5 of the scale);
- losses over 5 optimizer steps and weights after the SGD steps: 1e-3 (errors compound over
  steps; Adam's division by sqrt(v) + eps magnifies those of near-zero gradients).
They stay far below what a real difference produces: a wrong BatchNorm epsilon (1e-3 for 1e-5)
moves normalised outputs by ~5e-4.
- BatchNorm running variances after the SGD steps: 1/(n - 1) with n = PROBE_BATCH, the
  smallest number of values a batch statistic is taken over. PyTorch updates the running
  variance with the unbiased batch variance, Keras with the biased one, a factor n/(n - 1)
  that neither framework lets one change; ResNet-50 and MobileNetV2 at smoke size reduce to
  1x1 maps, where n is the batch. The running means stay under the strict tolerance, so a
  wrong momentum is still caught.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dlarena.parity.probe import PROBE_BATCH

FORWARD_TOLERANCE = 1e-4
GRADIENT_TOLERANCE = 1e-4
LOSS_TOLERANCE = 1e-3
RUNNING_VARIANCE_TOLERANCE = 1 / (PROBE_BATCH - 1)

Evidence = dict[str, np.ndarray]


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class ParityResult:
    workload: str
    size: str
    first: str
    second: str
    checks: tuple[Check, ...]
    # A worker that could not even produce evidence (e.g. the layout check refused the model).
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(check.passed for check in self.checks)

    @property
    def reason(self) -> str | None:
        if self.error is not None:
            return self.error
        failed = [check for check in self.checks if not check.passed]
        return f"{failed[0].name}: {failed[0].detail}" if failed else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParityResult:
        checks = tuple(Check(**check) for check in data["checks"])
        return cls(data["workload"], data["size"], data["first"], data["second"], checks,
                   data.get("error"))


def relative_error(reference: np.ndarray, candidate: np.ndarray) -> float:
    if reference.shape != candidate.shape:
        return float("inf")
    if reference.size == 0:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(reference))))
    return float(np.max(np.abs(reference.astype(np.float64) - candidate))) / scale


def _group(evidence: Evidence, prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix) + 1:]: value for key, value in evidence.items()
            if key.startswith(prefix + "/")}


def _parameters(first: str, a: Evidence, second: str, b: Evidence) -> Check:
    wa, wb = _group(a, "weights"), _group(b, "weights")
    problems = [f"{name} only in {first}" for name in sorted(set(wa) - set(wb))]
    problems += [f"{name} only in {second}" for name in sorted(set(wb) - set(wa))]
    problems += [f"{name} is {wa[name].shape} in {first}, {wb[name].shape} in {second}"
                 for name in sorted(set(wa) & set(wb)) if wa[name].shape != wb[name].shape]
    count_a, count_b = int(a["trainable_parameters"]), int(b["trainable_parameters"])
    if count_a != count_b:
        problems.insert(0, f"{first} counts {count_a:,} trainable parameters, {second} {count_b:,}")
    if problems:
        return Check("parameters", False, "; ".join(problems))
    return Check("parameters", True, f"{count_a:,} trainable parameters in {len(wa)} tensors, "
                                     "same names and shapes")


def _arrays(name: str, what: str, order: list[str], a: dict[str, np.ndarray],
            b: dict[str, np.ndarray], tolerance: float) -> Check:
    """Compare in forward order, so the first failure names where the models part ways."""
    keys = [key for key in order if key in a and key in b]
    keys += sorted((set(a) & set(b)) - set(keys))
    missing = sorted(set(a) ^ set(b))
    if missing:
        return Check(name, False, f"{what} present on one side only: {', '.join(missing)}")
    worst = 0.0
    for key in keys:
        error = relative_error(a[key], b[key])
        if not error <= tolerance:
            shapes = f" (shapes {a[key].shape} vs {b[key].shape})" if error == float("inf") else ""
            return Check(name, False, f"first difference at {key}: relative error "
                                      f"{error:.2e} > {_shown(tolerance)}{shapes}")
        worst = max(worst, error)
    return Check(name, True, f"{len(keys)} {what} agree; worst relative error {worst:.1e} "
                             f"(tolerance {_shown(tolerance)})")


def _shown(tolerance: float) -> str:
    """1e-04 for a power of ten, 0.14 otherwise (1/7 must not print as 1e-01)."""
    exponent = round(float(np.log10(tolerance)))
    return f"{tolerance:.0e}" if np.isclose(tolerance, 10.0**exponent) else f"{tolerance:.2f}"


def _trained(evidence: Evidence, *, variances: bool = False) -> dict[str, np.ndarray]:
    """Weights after the SGD steps: BatchNorm running variances, or everything else."""
    return {key: value for key, value in _group(evidence, "after_sgd").items()
            if key.endswith(".moving_variance") == variances}


def _losses(optimizer: str, a: Evidence, b: Evidence) -> Check:
    name = f"5 {optimizer} steps"
    la, lb = a[f"losses/{optimizer}"], b[f"losses/{optimizer}"]
    worst = 0.0
    for step, (x, y) in enumerate(zip(la, lb, strict=True), start=1):
        error = abs(float(x) - float(y)) / max(1.0, abs(float(x)))
        if not error <= LOSS_TOLERANCE:
            return Check(name, False, f"losses part at step {step}: {x:.6g} vs {y:.6g} "
                                      f"(relative {error:.1e} > {LOSS_TOLERANCE:.0e})")
        worst = max(worst, error)
    return Check(name, True, f"losses {' '.join(f'{v:.4g}' for v in la)} agree; worst "
                             f"relative error {worst:.1e} (tolerance {LOSS_TOLERANCE:.0e})")


def compare(
    *, workload: str, size: str, layer_order: list[str], first: str, a: Evidence,
    second: str, b: Evidence,
) -> ParityResult:
    """`layer_order`: canonical layer prefixes in forward order."""
    weight_order = [key for layer in layer_order for key in sorted(_group(a, "weights"))
                    if key.startswith(layer + ".")]
    checks = [_parameters(first, a, second, b)]
    if checks[0].passed:
        checks += [
            _arrays("forward (inference mode)", "layer outputs", layer_order,
                    _group(a, "eval"), _group(b, "eval"), FORWARD_TOLERANCE),
            _arrays("forward (training mode)", "layer outputs", layer_order,
                    _group(a, "train"), _group(b, "train"), FORWARD_TOLERANCE),
            _arrays("gradients", "gradients", weight_order,
                    _group(a, "grad"), _group(b, "grad"), GRADIENT_TOLERANCE),
            _losses("adam", a, b),
            _losses("sgd", a, b),
            _arrays("weights after 5 sgd steps", "weights", weight_order,
                    _trained(a), _trained(b), LOSS_TOLERANCE),
        ]
        variances_a, variances_b = _trained(a, variances=True), _trained(b, variances=True)
        if variances_a or variances_b:
            checks.append(_arrays("running variances after 5 sgd steps", "running variances",
                                  weight_order, variances_a, variances_b,
                                  RUNNING_VARIANCE_TOLERANCE))
    return ParityResult(workload, size, first, second, tuple(checks))

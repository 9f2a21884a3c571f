"""Coordinator side of a parity check: compare two implementations' evidence, name what differs.

Tolerances are relative to the reference array's scale, max(1, max |reference|). The probe
computes in float64 (probe.py), so each tolerance is set from what correct implementations
reach in float64 (`dlarena check --threads 1`, all ten workloads at smoke size, torch 2.13
and Keras 3.15), with a margin of at most 100x over the worst workload:

| check | worst measured | where | tolerance | margin |
| --- | --- | --- | --- | --- |
| forward (inference mode) | 2.0e-15 | cnn | 1e-13 | 50x |
| forward (training mode) | 6.3e-14 | mobilenet_v2 | 1e-12 | 16x |
| loss and gradients | 6.9e-14 | mobilenet_v2 | 1e-12 | 14x |
| 5 adam steps (losses) | 1.7e-14 | cnn | 1e-12 | 59x |
| 5 sgd steps (losses) | 1.3e-10 | mobilenet_v2 | 1e-8 | 77x |
| weights after 5 sgd steps | 8.3e-11 | mobilenet_v2 | 5e-9 | 60x |
| running variances (converted) | 1.0e-10 | mobilenet_v2 | 5e-9 | 50x |

Everything but MobileNetV2 agrees to a few units of float64 rounding (1e-16 to 1e-14).
MobileNetV2's training-mode BatchNorm normalises over 8 values where its maps are 1x1, which
amplifies rounding, and SGD then grows it about tenfold per step: PyTorch against *itself*
with 2 threads instead of 1 differs by the same 1.1e-10 on the losses and 8.8e-11 on the
weights. Inference mode (running statistics) amplifies nothing, hence its tighter bound.
torch.compile and XLA checked the same way (mlp, cnn, lstm, transformer) stay within 7.2e-15.
A real difference is far above these: a BatchNorm epsilon off by 1% moves normalised
outputs by ~5e-8, an Adam beta_1 off in the fourth digit the third loss by 3e-6.

BatchNorm running variances: PyTorch updates them with the unbiased batch variance, Keras
with the biased one, a factor n/(n - 1) that neither framework lets one change (n = values
per channel in the batch). With the same momentum m every step, after k steps from v0,
    running_unbiased = d + n/(n - 1) * (running_biased - d),   d = (1 - m)^k * v0,
exactly; the biased side is converted so, and the result gets the weights' tolerance.

The precision audit (`audit_precision`) compares each side's timed configuration (float32,
its mode, threads, layout, device) with its own float64 result. Correct float32 arithmetic
errs by about u * sqrt(N), u = 2^-24 and N the reduction length: for a layer's output the
sum of the fan-ins of every weighted layer up to it (the dot products its value went
through), for gradients that of the whole model. Measured on every workload in both
frameworks' default modes, the worst layer output reached 6.7 u * sqrt(N) (MobileNetV2's
last BatchNorm in training mode), the worst gradient 2.2 (relative to the model's largest
gradient: a gradient that cancels to ~0 carries the rounding of its large terms). The audit
flags a side at 64 times the expectation; TF32 (u = 2^-11) is ~8,000 times, bfloat16
(u = 2^-8) ~65,000 times it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dlarena.cell import TIMED_PRECISION
from dlarena.parity.probe import AUDIT_PREFIX, PROBE_PRECISION, TRAIN_STEPS

FORWARD_TOLERANCE = 1e-13
TRAINING_FORWARD_TOLERANCE = 1e-12
GRADIENT_TOLERANCE = 1e-12
ADAM_LOSS_TOLERANCE = 1e-12
SGD_LOSS_TOLERANCE = 1e-8
TRAINED_WEIGHT_TOLERANCE = 5e-9
RUNNING_VARIANCE_TOLERANCE = TRAINED_WEIGHT_TOLERANCE
# Every check's tolerance, in the order of the checks: what `dlarena check` and the
# reports print.
TOLERANCES = {
    "forward (inference mode)": FORWARD_TOLERANCE,
    "forward (training mode)": TRAINING_FORWARD_TOLERANCE,
    "loss and gradients": GRADIENT_TOLERANCE,
    "5 adam steps": ADAM_LOSS_TOLERANCE,
    "5 sgd steps": SGD_LOSS_TOLERANCE,
    "weights after 5 sgd steps": TRAINED_WEIGHT_TOLERANCE,
    "running variances after 5 sgd steps": RUNNING_VARIANCE_TOLERANCE,
}

# Unit roundoff of each precision a cell can be timed in.
UNIT_ROUNDOFF = {"fp32": 2.0**-24}
# An audited side is flagged at this many times u * sqrt(N) (module docstring).
REDUCED_PRECISION_LIMIT = 64.0

Evidence = dict[str, np.ndarray]


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Side:
    """One implementation in one mode, and the conventions its evidence follows."""

    framework: str
    mode: str
    # PyTorch's BatchNorm keeps the unbiased batch variance in its running variance.
    unbiased_running_variance: bool = False

    @property
    def label(self) -> str:
        return f"{self.framework}/{self.mode}"


@dataclass(frozen=True)
class ModelFacts:
    """What the comparison needs to know of the workload at this size."""

    # Canonical layer prefixes in forward order.
    layer_order: Sequence[str]
    # Layer -> sum of the fan-ins of every weighted layer up to and including it.
    reduction_lengths: Mapping[str, int] = field(default_factory=dict)
    # PyTorch's convention: new = (1 - momentum) * old + momentum * batch.
    batchnorm_momentum: float = 0.1


@dataclass(frozen=True)
class PrecisionFinding:
    """The worst (or first flagged) array of one kind: its error and float32's expectation."""

    what: str  # "layer outputs" or "gradients"
    where: str
    error: float
    expected: float
    reduction_length: int

    @property
    def ratio(self) -> float:
        return self.error / self.expected

    @property
    def bits(self) -> float:
        """Bits to which the timed path agrees with float64: -log2(relative error)."""
        return math.inf if self.error <= 0 else -math.log2(self.error)


@dataclass(frozen=True)
class PrecisionAudit:
    """One side's timed configuration against its own float64 result."""

    label: str
    precision: str
    findings: tuple[PrecisionFinding, ...]

    @property
    def worst(self) -> PrecisionFinding:
        """The first finding past the limit (layer outputs before gradients), else the one
        with the largest ratio."""
        flagged = [f for f in self.findings if f.ratio > REDUCED_PRECISION_LIMIT]
        return flagged[0] if flagged else max(self.findings, key=lambda f: f.ratio)

    @property
    def reduced(self) -> bool:
        return self.worst.ratio > REDUCED_PRECISION_LIMIT

    def describe(self) -> str:
        worst = self.worst
        if worst.error == 0:
            return f"{self.label} {self.precision}: layer outputs and gradients equal float64's"
        return (f"{self.label} {self.precision}: {worst.what} at {worst.where} differ from "
                f"float64 by {worst.error:.1e}, {worst.ratio:.1f}x float32's expected "
                f"{worst.expected:.1e} (agrees to about {worst.bits:.0f} bits)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrecisionAudit:
        # A stored error of null was not finite (stored JSON holds no NaN): worse than any.
        return cls(data["label"], data["precision"],
                   tuple(PrecisionFinding(**{**finding, "error": math.inf if finding["error"]
                                             is None else finding["error"]})
                         for finding in data["findings"]))


@dataclass(frozen=True)
class ParityResult:
    workload: str
    size: str
    first: str
    second: str
    checks: tuple[Check, ...]
    # A worker that could not even produce evidence (e.g. the layout check refused the model).
    error: str | None = None
    # The modes checked; None in results stored before modes were (the default modes).
    first_mode: str | None = None
    second_mode: str | None = None
    precision: str = PROBE_PRECISION
    audits: tuple[PrecisionAudit, ...] = ()

    @property
    def same_model(self) -> bool:
        return self.error is None and all(check.passed for check in self.checks)

    @property
    def reduced_precision(self) -> list[PrecisionAudit]:
        return [audit for audit in self.audits if audit.reduced]

    @property
    def passed(self) -> bool:
        """The same model, and both timed paths compute at their precision."""
        return self.same_model and not self.reduced_precision

    @property
    def reason(self) -> str | None:
        if self.error is not None:
            return self.error
        failed = [check for check in self.checks if not check.passed]
        if failed:
            return f"{failed[0].name}: {failed[0].detail}"
        reduced = self.reduced_precision
        if reduced:
            return f"reduced precision ({'; '.join(audit.describe() for audit in reduced)})"
        return None

    @property
    def first_label(self) -> str:
        return f"{self.first}/{self.first_mode}" if self.first_mode else self.first

    @property
    def second_label(self) -> str:
        return f"{self.second}/{self.second_mode}" if self.second_mode else self.second

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParityResult:
        checks = tuple(Check(**check) for check in data["checks"])
        audits = tuple(PrecisionAudit.from_dict(audit) for audit in data.get("audits", ()))
        return cls(data["workload"], data["size"], data["first"], data["second"], checks,
                   data.get("error"), data.get("first_mode"), data.get("second_mode"),
                   data.get("precision", PROBE_PRECISION), audits)


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


def _arrays(name: str, what: str, order: Sequence[str], a: dict[str, np.ndarray],
            b: dict[str, np.ndarray]) -> Check:
    """Compare in forward order, so the first failure names where the models part ways."""
    tolerance = TOLERANCES[name]
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
                                      f"{error:.2e} > {tolerance:.0e}{shapes}")
        worst = max(worst, error)
    return Check(name, True, f"{len(keys)} {what} agree; worst relative error {worst:.1e} "
                             f"(tolerance {tolerance:.0e})")


def _trained(evidence: Evidence, *, variances: bool = False) -> dict[str, np.ndarray]:
    """Weights after the SGD steps: BatchNorm running variances, or everything else."""
    return {key: value for key, value in _group(evidence, "after_sgd").items()
            if key.endswith(".moving_variance") == variances}


def _unbiased_running_variances(evidence: Evidence, side: Side, other: Side,
                                 facts: ModelFacts) -> dict[str, np.ndarray]:
    """Running variances after the SGD steps in PyTorch's (unbiased) convention, exactly;
    as they are where both sides keep the same convention (nothing to convert)."""
    trained = _trained(evidence, variances=True)
    if side.unbiased_running_variance or not other.unbiased_running_variance:
        return trained
    converted = {}
    for name, running in trained.items():
        layer = name.removesuffix(".moving_variance")
        output = evidence[f"train/{layer}"]  # canonical (N, C, ...): values per channel
        n = output.size // output.shape[1]
        start = (1.0 - facts.batchnorm_momentum) ** TRAIN_STEPS * evidence[f"weights/{name}"]
        converted[name] = start + n / (n - 1) * (running - start)
    return converted


def _losses(optimizer: str, a: Evidence, b: Evidence) -> Check:
    name = f"5 {optimizer} steps"
    tolerance = TOLERANCES[name]
    la, lb = a[f"losses/{optimizer}"], b[f"losses/{optimizer}"]
    worst = 0.0
    for step, (x, y) in enumerate(zip(la, lb, strict=True), start=1):
        error = abs(float(x) - float(y)) / max(1.0, abs(float(x)))
        if not error <= tolerance:
            return Check(name, False, f"losses part at step {step}: {x:.15g} vs {y:.15g} "
                                      f"(relative {error:.1e} > {tolerance:.0e})")
        worst = max(worst, error)
    return Check(name, True, f"losses {' '.join(f'{v:.4g}' for v in la)} agree; worst "
                             f"relative error {worst:.1e} (tolerance {tolerance:.0e})")


def _with_loss(evidence: Evidence, gradients: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The loss first, then the gradients: a different loss is named as such."""
    return {"loss": evidence["loss"], **gradients}


def compare(
    *, workload: str, size: str, facts: ModelFacts, first: Side, a: Evidence,
    second: Side, b: Evidence,
) -> ParityResult:
    """`a` is the reference: relative errors are taken against its arrays."""
    order = list(facts.layer_order)
    weight_order = ["loss", *(key for layer in order for key in sorted(_group(a, "weights"))
                              if key.startswith(layer + "."))]
    checks = [_parameters(first.label, a, second.label, b)]
    if checks[0].passed:
        checks += [
            _arrays("forward (inference mode)", "layer outputs", order,
                    _group(a, "eval"), _group(b, "eval")),
            _arrays("forward (training mode)", "layer outputs", order,
                    _group(a, "train"), _group(b, "train")),
            _arrays("loss and gradients", "values", weight_order,
                    _with_loss(a, _group(a, "grad")), _with_loss(b, _group(b, "grad"))),
            _losses("adam", a, b),
            _losses("sgd", a, b),
            _arrays("weights after 5 sgd steps", "weights", weight_order,
                    _trained(a), _trained(b)),
        ]
        variances_a = _unbiased_running_variances(a, first, second, facts)
        variances_b = _unbiased_running_variances(b, second, first, facts)
        if variances_a or variances_b:
            checks.append(_arrays("running variances after 5 sgd steps",
                                  "running variances (unbiased convention)", weight_order,
                                  variances_a, variances_b))
    audits = tuple(audit_precision(side.label, evidence, facts)
                   for side, evidence in ((first, a), (second, b))
                   if f"{AUDIT_PREFIX}/loss" in evidence)
    return ParityResult(workload, size, first.framework, second.framework, tuple(checks),
                        first_mode=first.mode, second_mode=second.mode, audits=audits)


def audit_precision(label: str, evidence: Evidence, facts: ModelFacts,
                    precision: str = TIMED_PRECISION) -> PrecisionAudit:
    """The timed configuration's layer outputs and gradients against this side's float64."""
    unit = UNIT_ROUNDOFF[precision]
    lengths = facts.reduction_lengths
    total = max([1, *lengths.values()])
    outputs: list[tuple[str, float, int]] = []
    for mode in ("eval", "train"):
        exact, timed = _group(evidence, mode), _group(evidence, f"{AUDIT_PREFIX}/{mode}")
        for layer in [key for key in facts.layer_order if key in exact and key in timed]:
            scale = float(np.max(np.abs(exact[layer]), initial=0.0))
            difference = float(np.max(np.abs(timed[layer] - exact[layer]), initial=0.0))
            error = difference / scale if scale > 0 else difference
            outputs.append((f"{layer} ({'inference' if mode == 'eval' else 'training'})",
                            error, max(1, lengths.get(layer, 1))))
    exact, timed = _group(evidence, "grad"), _group(evidence, f"{AUDIT_PREFIX}/grad")
    # Relative to the model's largest gradient (module docstring).
    scale = max([float(np.max(np.abs(value), initial=0.0)) for value in exact.values()]
                + [np.finfo(np.float64).tiny])
    gradients = [(name, float(np.max(np.abs(timed[name] - exact[name]), initial=0.0)) / scale,
                  total) for name in exact if name in timed]
    findings = tuple(
        _finding(what, found, unit)
        for what, found in (("layer outputs", outputs), ("gradients", gradients)) if found)
    return PrecisionAudit(label, precision, findings)


def _finding(what: str, found: list[tuple[str, float, int]], unit: float) -> PrecisionFinding:
    """The first array past the limit, in forward order; else the worst one."""
    candidates = [PrecisionFinding(what, where, error, unit * math.sqrt(length), length)
                  for where, error, length in found]
    flagged = [c for c in candidates if c.ratio > REDUCED_PRECISION_LIMIT]
    return flagged[0] if flagged else max(candidates, key=lambda c: c.ratio)

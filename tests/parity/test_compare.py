"""The comparison names what differs, using literal evidence (no framework needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dlarena.parity import check
from dlarena.parity.compare import (
    REDUCED_PRECISION_LIMIT,
    ModelFacts,
    ParityResult,
    Side,
    compare,
)

FACTS = ModelFacts(["dense1", "dense1_bn", "out"], {"dense1": 4, "dense1_bn": 4, "out": 7}, 0.1)
TORCH = Side("torch", "eager", unbiased_running_variance=True)
KERAS = Side("tensorflow", "function")


def evidence(**changes: np.ndarray) -> dict[str, np.ndarray]:
    """A float64 side, and its timed path as correct float32 arithmetic would give it."""
    rng = np.random.default_rng(0)
    arrays = {
        "trainable_parameters": np.array(4 * 3 + 3 + 3 * 2 + 2),
        "weights/dense1.kernel": rng.random((4, 3)), "weights/dense1.bias": rng.random(3),
        "weights/out.kernel": rng.random((3, 2)), "weights/out.bias": rng.random(2),
        "eval/dense1": rng.random((8, 3)), "eval/out": rng.random((8, 2)),
        "train/dense1": rng.random((8, 3)), "train/out": rng.random((8, 2)),
        "loss": np.array(2.3),
        "grad/dense1.kernel": rng.random((4, 3)), "grad/out.kernel": rng.random((3, 2)),
        "losses/adam": np.array([2.3, 2.2, 2.1, 2.0, 1.9]),
        "losses/sgd": np.array([2.3, 2.25, 2.2, 2.15, 2.1]),
        "after_sgd/dense1.kernel": rng.random((4, 3)), "after_sgd/out.kernel": rng.random((3, 2)),
    }
    arrays.update(changes)
    for key in [key for key in arrays if key.startswith(("eval/", "train/", "grad/", "loss"))
                and not key.startswith("losses/")]:
        arrays[f"audit/{key}"] = arrays[key].astype(np.float32)
    return arrays


def run(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> ParityResult:
    return compare(workload="w", size="smoke", facts=FACTS, first=TORCH, a=a, second=KERAS, b=b)


def test_identical_evidence_passes_every_check_and_both_audits() -> None:
    result = run(evidence(), evidence())
    assert result.passed and result.reason is None
    assert [c.name for c in result.checks] == [
        "parameters", "forward (inference mode)", "forward (training mode)",
        "loss and gradients", "5 adam steps", "5 sgd steps", "weights after 5 sgd steps"]
    assert (result.first_label, result.second_label) == ("torch/eager", "tensorflow/function")
    assert [audit.label for audit in result.audits] == ["torch/eager", "tensorflow/function"]
    assert all(audit.worst.ratio < 1 for audit in result.audits)  # float32 rounding: < u sqrt(N)


def test_float64_rounding_passes_and_a_float32_sized_difference_does_not() -> None:
    base = evidence()
    rounding = {k: (v * (1 + 4e-16) if k.startswith(("eval/", "grad/")) else v)
                for k, v in base.items()}
    assert run(base, rounding).passed
    # What the float32-era tolerance of 1e-4 let through: now the first layer is named.
    float32_sized = {k: (v * (1 + 5e-6) if k.startswith("eval/") else v) for k, v in base.items()}
    reason = run(base, float32_sized).reason
    assert reason is not None
    assert reason.startswith("forward (inference mode): first difference at dense1: relative "
                             "error 4.")
    assert reason.endswith("> 1e-13")


def test_the_first_differing_layer_is_named() -> None:
    base = evidence()
    changed = dict(base)
    changed["eval/dense1"] = base["eval/dense1"] * (1 + 1e-10)  # e.g. an epsilon off by 1%
    changed["eval/out"] = base["eval/out"] * (1 + 1e-10)
    result = run(base, changed)
    assert not result.passed
    assert result.reason is not None
    assert result.reason.startswith("forward (inference mode): first difference at dense1")


def test_a_missing_bias_is_named_with_the_side_that_lacks_it() -> None:
    base = evidence()
    lacking = {k: v for k, v in base.items() if k != "weights/out.bias"}
    lacking["trainable_parameters"] = np.array(int(base["trainable_parameters"]) - 2)
    result = run(base, lacking)
    assert not result.passed
    assert result.reason == ("parameters: torch/eager counts 23 trainable parameters, "
                             "tensorflow/function 21; out.bias only in torch/eager")
    assert len(result.checks) == 1  # nothing else is comparable


def test_a_different_gradient_is_named() -> None:
    base = evidence()
    result = run(base, evidence(**{"grad/out.kernel": base["grad/out.kernel"] + 1e-9}))
    assert result.reason is not None
    assert "loss and gradients: first difference at out.kernel" in result.reason


def test_a_different_loss_is_named_before_the_gradients() -> None:
    base = evidence()
    result = run(base, evidence(loss=np.array(2.3 + 1e-9),
                                **{"grad/dense1.kernel": base["grad/dense1.kernel"] + 1e-9}))
    assert result.reason is not None
    assert result.reason.startswith("loss and gradients: first difference at loss:")


def test_diverging_losses_name_the_step() -> None:
    result = run(evidence(), evidence(**{"losses/sgd": np.array([2.3, 2.25, 2.2, 2.3, 2.4])}))
    assert result.reason == ("5 sgd steps: losses part at step 4: 2.15 vs 2.3 "
                             "(relative 7.0e-02 > 1e-08)")


def test_round_trip_through_dict() -> None:
    result = run(evidence(), evidence(**{"losses/adam": np.array([9.0] * 5)}))
    assert ParityResult.from_dict(result.to_dict()) == result


def test_a_result_stored_before_modes_and_audits_loads_with_neither() -> None:
    stored = {"workload": "mlp", "size": "smoke", "first": "torch", "second": "tensorflow",
              "checks": [{"name": "parameters", "passed": True, "detail": "…"}], "error": None}
    result = ParityResult.from_dict(stored)
    assert (result.first_mode, result.second_mode, result.audits) == (None, None, ())
    assert result.passed and result.first_label == "torch"


N = 8  # values per channel: the (8, 3) training-mode output of dense1_bn


def _batchnorm(running_variance: np.ndarray, running_mean: float) -> dict[str, np.ndarray]:
    return evidence(**{"weights/dense1_bn.moving_variance": np.ones(3),
                       "weights/dense1_bn.moving_mean": np.zeros(3),
                       "train/dense1_bn": np.random.default_rng(1).random((N, 3)),
                       "after_sgd/dense1_bn.moving_variance": running_variance,
                       "after_sgd/dense1_bn.moving_mean": np.full(3, running_mean)})


def _running_variance(batch_variances: list[float], *, unbiased: bool) -> np.ndarray:
    """Five updates with momentum 0.1 from 1, each side in its own convention."""
    running = np.ones(3)
    for variance in batch_variances:
        running = 0.9 * running + 0.1 * variance * (N / (N - 1) if unbiased else 1.0)
    return running


def test_running_variances_are_converted_exactly_between_the_conventions() -> None:
    batch_variances = [0.8, 1.3, 0.5, 2.0, 0.9]
    reference = _batchnorm(_running_variance(batch_variances, unbiased=True), 0.5)
    biased = _batchnorm(_running_variance(batch_variances, unbiased=False), 0.5)
    converted = run(reference, biased)
    assert converted.passed, converted.reason
    assert converted.checks[-1].name == "running variances after 5 sgd steps"
    # A batch variance off by 1e-6 at one step is a different function: no longer tolerated.
    off = _batchnorm(_running_variance([0.8, 1.3, 0.5 + 1e-6, 2.0, 0.9], unbiased=False), 0.5)
    assert run(reference, off).reason == (
        "running variances after 5 sgd steps: first difference at dense1_bn.moving_variance: "
        "relative error 8.31e-08 > 5e-09")
    wrong_momentum = run(reference, _batchnorm(_running_variance(batch_variances,
                                                                 unbiased=False), 0.45))
    assert wrong_momentum.reason is not None
    assert wrong_momentum.reason.startswith(
        "weights after 5 sgd steps: first difference at dense1_bn.moving_mean")


def _bfloat16(array: np.ndarray) -> np.ndarray:
    """Round to bfloat16's 8 significant bits, as a layer computed in bfloat16 would."""
    mantissa, exponent = np.frexp(array)
    return np.ldexp(np.round(mantissa * 256) / 256, exponent).astype(np.float32)


def test_a_timed_path_in_reduced_precision_is_flagged_and_named() -> None:
    base = evidence()
    planted = dict(base, **{"audit/eval/out": _bfloat16(base["eval/out"])})
    result = run(base, planted)
    assert result.same_model and not result.passed
    [audit] = result.reduced_precision
    assert audit.label == "tensorflow/function"
    worst = audit.worst
    assert (worst.what, worst.where) == ("layer outputs", "out (inference)")
    assert worst.ratio > REDUCED_PRECISION_LIMIT
    assert 7 <= worst.bits <= 10
    assert result.reason is not None
    assert result.reason.startswith("reduced precision (tensorflow/function fp32: layer "
                                    "outputs at out (inference) differ from float64 by ")


def test_a_gradient_that_cancels_to_zero_is_judged_at_the_models_gradient_scale() -> None:
    # float64 gives 1e-17, float32 1e-8: the rounding of O(1) terms that cancel.
    base = evidence(**{"grad/out.kernel": np.full((3, 2), 1e-17)})
    base["audit/grad/out.kernel"] = np.full((3, 2), 1e-8, np.float32)
    result = run(base, base)
    assert result.passed, result.reason


@pytest.mark.parametrize("touched", [
    "contract/implementation.py", "workloads/images.py", "workloads/mlp/spec.py",
    "workloads/mlp/torch.py", "frameworks/torch/model.py", "frameworks/torch/layouts.py",
    "parity/probe.py",
])
def test_the_parity_cache_key_covers_every_file_that_defines_the_model(
        touched: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "dlarena"
    shutil.copytree(check._SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(check, "_SOURCE", copy)
    before = check.implementation_version("mlp", "torch", "2.0")
    assert check.implementation_version("mlp", "tensorflow", "2.0") != before
    with (copy / touched).open("a") as file:
        file.write("\n# touched\n")
    assert check.implementation_version("mlp", "torch", "2.0") != before

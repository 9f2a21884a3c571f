"""The comparison names what differs, using literal evidence (no framework needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dlarena.parity import check
from dlarena.parity.compare import ParityResult, compare

LAYERS = ["dense1", "out"]


def evidence(**changes: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "trainable_parameters": np.array(4 * 3 + 3 + 3 * 2 + 2),
        "weights/dense1.kernel": rng.random((4, 3)), "weights/dense1.bias": rng.random(3),
        "weights/out.kernel": rng.random((3, 2)), "weights/out.bias": rng.random(2),
        "eval/dense1": rng.random((8, 3)), "eval/out": rng.random((8, 2)),
        "train/dense1": rng.random((8, 3)), "train/out": rng.random((8, 2)),
        "grad/dense1.kernel": rng.random((4, 3)), "grad/out.kernel": rng.random((3, 2)),
        "losses/adam": np.array([2.3, 2.2, 2.1, 2.0, 1.9]),
        "losses/sgd": np.array([2.3, 2.25, 2.2, 2.15, 2.1]),
        "after_sgd/dense1.kernel": rng.random((4, 3)), "after_sgd/out.kernel": rng.random((3, 2)),
    }
    arrays.update(changes)
    return arrays


def run(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> ParityResult:
    return compare(workload="w", size="smoke", layer_order=LAYERS, first="torch", a=a,
                   second="tensorflow", b=b)


def test_identical_evidence_passes_every_check() -> None:
    result = run(evidence(), evidence())
    assert result.passed and result.reason is None
    assert [c.name for c in result.checks] == [
        "parameters", "forward (inference mode)", "forward (training mode)", "gradients",
        "5 adam steps", "5 sgd steps", "weights after 5 sgd steps"]


def test_float32_noise_within_tolerance_passes() -> None:
    base = evidence()
    noisy = {k: (v + 5e-6 if k.startswith(("eval/", "grad/")) else v) for k, v in base.items()}
    assert run(base, noisy).passed


def test_the_first_differing_layer_is_named() -> None:
    base = evidence()
    changed = dict(base)
    changed["eval/dense1"] = base["eval/dense1"] * 1.001  # e.g. a wrong BatchNorm epsilon
    changed["eval/out"] = base["eval/out"] * 1.001
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
    assert result.reason == ("parameters: torch counts 23 trainable parameters, tensorflow 21; "
                             "out.bias only in torch")
    assert len(result.checks) == 1  # nothing else is comparable


def test_a_different_gradient_is_named() -> None:
    base = evidence()
    result = run(base, evidence(**{"grad/out.kernel": base["grad/out.kernel"] + 0.01}))
    assert result.reason is not None and "gradients: first difference at out.kernel" in result.reason


def test_diverging_losses_name_the_step() -> None:
    result = run(evidence(), evidence(**{"losses/sgd": np.array([2.3, 2.25, 2.2, 2.3, 2.4])}))
    assert result.reason == ("5 sgd steps: losses part at step 4: 2.15 vs 2.3 "
                             "(relative 7.0e-02 > 1e-03)")


def test_round_trip_through_dict() -> None:
    result = run(evidence(), evidence(**{"losses/adam": np.array([9.0] * 5)}))
    assert ParityResult.from_dict(result.to_dict()) == result


def _with_batchnorm(variance: float, mean: float) -> dict[str, np.ndarray]:
    return evidence(**{"after_sgd/dense1_bn.moving_variance": np.full(3, variance),
                       "after_sgd/dense1_bn.moving_mean": np.full(3, mean)})


def test_running_variances_get_the_unbiased_vs_biased_bound_and_means_do_not() -> None:
    from dlarena.parity.compare import RUNNING_VARIANCE_TOLERANCE

    reference = _with_batchnorm(1.0, 0.5)
    # PyTorch's n/(n-1) with n = 8 after a few updates: within 1/7
    convention = run(reference, _with_batchnorm(1.0 - 0.9 * RUNNING_VARIANCE_TOLERANCE, 0.5))
    assert convention.passed, convention.reason
    assert convention.checks[-1].name == "running variances after 5 sgd steps"
    too_far = run(reference, _with_batchnorm(1.0 - 1.5 * RUNNING_VARIANCE_TOLERANCE, 0.5))
    assert too_far.reason == ("running variances after 5 sgd steps: first difference at "
                              "dense1_bn.moving_variance: relative error 2.14e-01 > 0.14")
    wrong_momentum = run(reference, _with_batchnorm(1.0, 0.45))
    assert wrong_momentum.reason is not None
    assert wrong_momentum.reason.startswith(
        "weights after 5 sgd steps: first difference at dense1_bn.moving_mean")


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

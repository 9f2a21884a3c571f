"""Frameworks in their own environments (MXNet, Chainer, PaddlePaddle) and those that cannot
run here (CNTK, Caffe): found without --python, never silently absent, and the same model as
PyTorch's (the `frameworks` tests, which need `make venvs`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlarena import registry
from dlarena.contract import BatchNormSettings, FrameworkInfo
from dlarena.contract.chain import BatchNorm, Conv, Dense, flattened
from dlarena.engine import environment
from dlarena.parity import probe
from dlarena.workloads import sequential
from tests.cli.test_cli import assert_usage_error, dlarena

OWN = ("chainer", "mxnet", "paddle")
UNAVAILABLE = ("caffe", "cntk")
# The BatchNorm models (and MobileNetV2's grouped convolutions and ReLU6), checked in one run.
CHECKED = ("cnn", "resnet50", "mobilenet_v2")


def _fake_environment(root: Path, folder: str, version: str | None) -> Path:
    """A virtual environment whose python answers the version probe with `version`."""
    python = root / folder / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\necho {version or ''}\n")
    python.chmod(0o755)
    return python


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(environment, "_environment_roots", lambda: [tmp_path])
    return tmp_path


def test_an_own_environment_beside_the_checkout_is_its_framework_s_interpreter(
        roots: Path) -> None:
    python = _fake_environment(roots, ".venv-mxnet", "1.9.1")
    found = environment.interpreters({})
    assert found["mxnet"] == str(python)
    assert "chainer" not in found and "torch" not in found  # absent: no folder, or none needed
    assert environment.framework_version(registry.frameworks()["mxnet"], found["mxnet"]) == "1.9.1"
    # --python still wins.
    assert environment.interpreters({"mxnet": "/elsewhere/python"})["mxnet"] == "/elsewhere/python"


def test_a_missing_own_environment_is_not_installed_whatever_this_interpreter_has(
        roots: Path) -> None:
    info = FrameworkInfo(name="numpyish", description="", distributions=("numpy",),
                         pip_requirement="numpy", modes=("eager",), eager_mode="eager",
                         own_environment=".venv-numpyish")
    assert environment.framework_version(info) is None  # numpy is installed here, not there
    reason = environment.not_runnable_reason(info)
    assert reason == ("not installed; install it with: make venvs "
                      "(or: bash scripts/install-venvs.sh numpyish)")


def test_a_failed_install_says_why_in_one_line(roots: Path) -> None:
    folder = roots / ".venv-paddle"
    folder.mkdir()
    (folder / environment.INSTALL_FAILED).write_text(
        "pip install failed with Python 3.11.7: ERROR: No matching distribution\nmore\n")
    reasons = environment.not_runnable(environment.interpreters({}))
    assert reasons["paddle"] == ("not installed here: pip install failed with Python 3.11.7: "
                                 "ERROR: No matching distribution")
    assert "torch" not in reasons and "fake" not in reasons


@pytest.mark.parametrize("name", UNAVAILABLE)
def test_cntk_and_caffe_are_listed_as_not_runnable_here_with_a_reason(name: str) -> None:
    info = registry.frameworks()[name]
    assert info.unavailable
    assert environment.framework_version(info, sys.executable) is None
    reason = environment.not_runnable_reason(info)
    assert reason == f"not runnable here: {info.unavailable}"
    listed = dlarena("list")
    assert listed.returncode == 0, listed.stderr
    line = next(text for text in listed.stdout.splitlines() if text.strip().startswith(name))
    assert "not runnable here: " in line


def test_a_framework_that_cannot_run_here_is_a_usage_error_naming_why(tmp_path: Path) -> None:
    result = dlarena("run", "--frameworks", "cntk", "--db", str(tmp_path / "r.db"))
    assert_usage_error(result, "cntk is not runnable here: CNTK 2.7.post2")
    assert not (tmp_path / "r.db").exists()


def test_two_environments_over_one_base_python_are_not_the_same(tmp_path: Path) -> None:
    # Every venv's python links to the same base binary: the folders tell them apart.
    base = Path(sys.executable).resolve()
    first, second = (tmp_path / name / "bin" / "python" for name in ("a", "b"))
    for link in (first, second):
        link.parent.mkdir(parents=True)
        link.symlink_to(base)
    assert not environment._same_environment(str(first), str(second))
    assert environment._same_environment(str(first), str(first.parent / "python"))


def test_settings_the_old_frameworks_keep_in_float32_are_exact_in_float32() -> None:
    # MXNet's BatchNorm momentum and sgd_update learning rate, PaddlePaddle's BatchNorm
    # momentum and epsilon are float32 operator attributes: in float64 any other value parts
    # them from PyTorch (docs/old-frameworks.md).
    bn = BatchNormSettings()
    for value in (bn.epsilon, 1 - bn.momentum, bn.momentum, probe.SGD_LEARNING_RATE):
        assert float(np.float32(value)) == value
    # Still PyTorch's defaults, to float32's precision.
    assert (bn.epsilon, bn.momentum, probe.SGD_LEARNING_RATE) == pytest.approx(
        (1e-5, 0.1, 0.01), rel=3e-7)


@pytest.mark.parametrize("workload", sorted(sequential.CHAINS))
@pytest.mark.parametrize("size", ["smoke", "cpu", "full"])
def test_each_shared_chain_holds_its_workload_s_canonical_weights_in_order(
        workload: str, size: str) -> None:
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in flattened(sequential.CHAINS[workload](size)):
        if isinstance(layer, Dense):
            shapes[f"{layer.name}.kernel"] = (layer.inputs, layer.outputs)
            shapes[f"{layer.name}.bias"] = (layer.outputs,)
        elif isinstance(layer, Conv):
            shapes[f"{layer.name}.kernel"] = (layer.outputs, layer.inputs // layer.groups,
                                              layer.kernel, layer.kernel)
            if layer.bias:
                shapes[f"{layer.name}.bias"] = (layer.outputs,)
        elif isinstance(layer, BatchNorm):
            shapes.update({f"{layer.name}.{stat}": (layer.channels,) for stat in
                           ("gamma", "beta", "moving_mean", "moving_variance")})
    expected = registry.workloads()[workload].parameter_shapes(size)
    assert list(shapes.items()) == [(name, tuple(shape)) for name, shape in expected.items()]


def _require_environment(name: str) -> str:
    """The framework's own interpreter, which `make` installs: under CI a missing one fails."""
    python = environment.own_interpreter(registry.frameworks()[name])
    if python is None:
        reason = environment.not_runnable_reason(registry.frameworks()[name])
        if os.environ.get("CI"):
            pytest.fail(f"{name} is installed by `make venvs` but is missing: {reason}")
        pytest.skip(f"{name}: {reason}")
    return python


@pytest.mark.frameworks
@pytest.mark.parametrize("name", OWN)
def test_each_old_framework_computes_pytorch_s_mlp(name: str) -> None:
    _require_environment(name)
    require_torch = environment.framework_version(registry.frameworks()["torch"])
    assert require_torch is not None, "torch is installed by make"
    modes = ",".join(dict.fromkeys(("eager", *registry.frameworks()[name].modes)))
    result = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "check", "--frameworks", f"torch,{name}",
         "--workloads", "mlp", "--modes", modes, "--threads", "1"],
        capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = [line for line in result.stdout.splitlines() if "checked in float64" in line]
    assert len(verdicts) >= 1 + len(registry.frameworks()[name].compiled_modes)
    assert all(line.endswith("same model") for line in verdicts), result.stdout


@pytest.fixture(scope="module")
def checked() -> str:
    """One same-model check of the BatchNorm models and MobileNetV2, every old framework
    in each of its modes against PyTorch's eager mode: the tests below read its verdicts."""
    for name in OWN:
        _require_environment(name)
    modes = dict.fromkeys(mode for name in OWN for mode in registry.frameworks()[name].modes)
    result = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "check", "--frameworks", ",".join(("torch", *OWN)),
         "--workloads", ",".join(CHECKED), "--modes", ",".join(modes), "--threads", "1"],
        capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.frameworks
@pytest.mark.parametrize("workload", CHECKED)
@pytest.mark.parametrize("name", OWN)
def test_each_old_framework_computes_pytorch_s_batchnorm_models_and_mobilenet_v2(
        checked: str, name: str, workload: str) -> None:
    for mode in registry.frameworks()[name].modes:
        header = f"{workload} (smoke): torch/eager vs {name}/{mode}, checked in float64: "
        verdict = next((line for line in checked.splitlines() if line.startswith(header)),
                       None)
        assert verdict == header + "same model", checked


@pytest.mark.frameworks
def test_old_frameworks_run_their_smoke_cells_in_their_own_environments(tmp_path: Path) -> None:
    pythons = {name: _require_environment(name) for name in OWN}
    db = str(tmp_path / "r.db")
    # The same-model check is the test above; here the timed cells, train and infer.
    result = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "run", "--frameworks", ",".join(OWN),
         "--workloads", "mlp", "--scenarios", "train,infer", "--size", "smoke",
         "--windows", "2", "--no-parity", "--db", db],
        capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    report = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "report", "--db", db, "--format", "json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert report.returncode == 0, report.stderr
    document = json.loads(report.stdout)
    cells = document["cells"]
    assert {(cell["framework"], cell["scenario"]) for cell in cells if cell["status"] == "ok"} \
        == {(name, scenario) for name in OWN for scenario in ("train", "infer")}
    # Each ran its own environment's framework (the main environment has none of them).
    versions = {cell["framework"]: cell["framework_version"] for cell in cells}
    for name, python in pythons.items():
        assert versions[name] == environment.framework_version(registry.frameworks()[name],
                                                               python)


_MXNET_ADAM = """
import json, math, sys
import mxnet, numpy as np
from dlarena.frameworks.mxnet.model import _adam_with_pytorch_epsilon

rng = np.random.default_rng(0)
scale = 10.0 ** rng.uniform(-9, 0, 1000)  # from far below epsilon to 1
grads = [rng.standard_normal(1000) * scale for _ in range(20)]
weights, mean, var = np.zeros(1000), np.zeros(1000), np.zeros(1000)
for t, grad in enumerate(grads, 1):  # torch.optim.Adam in float64
    mean = 0.9 * mean + 0.1 * grad
    var = 0.999 * var + 0.001 * grad * grad
    weights -= 1e-3 * (mean / (1 - 0.9 ** t)) / (np.sqrt(var / (1 - 0.999 ** t)) + 1e-8)
errors = {}
for dtype in ("float32", "float64"):
    adam = _adam_with_pytorch_epsilon()(learning_rate=1e-3, beta1=0.9, beta2=0.999,
                                        epsilon=1e-8)
    weight = mxnet.nd.zeros(1000, dtype=dtype)
    state = adam.create_state(0, weight)
    calls = []
    fused = mxnet.nd.adam_update
    mxnet.nd.adam_update = lambda *a, **k: calls.append(1) or fused(*a, **k)
    for grad in grads:
        adam.update(0, weight, mxnet.nd.array(grad, dtype=dtype), state)
    mxnet.nd.adam_update = fused
    errors[dtype] = [float(np.max(np.abs(weight.asnumpy() - weights) / np.abs(weights))),
                     len(calls)]
print(json.dumps(errors))
"""


@pytest.mark.frameworks
def test_mxnet_s_adam_is_pytorch_s_fused_in_float32_and_written_out_in_float64() -> None:
    """Timed (float32) cells take MXNet's fused `adam_update` with the learning rate and
    epsilon rescaled to PyTorch's placement; the float64 check takes the written-out update.
    Both against torch.optim.Adam's arithmetic in float64, per element, for gradients from far
    below epsilon (where the placement decides the step) to 1."""
    python = _require_environment("mxnet")
    source = str(Path(__file__).resolve().parents[2] / "src")
    result = subprocess.run([python, "-c", _MXNET_ADAM], capture_output=True, text=True,
                            timeout=300, check=False,
                            env={**os.environ, "PYTHONPATH": source})
    assert result.returncode == 0, result.stderr
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    (float32_error, float32_fused), (float64_error, float64_fused) = (
        errors["float32"], errors["float64"])
    assert float32_fused == 20 and float64_fused == 0
    # Measured: 1.4e-4 (float32 rounding of near-cancelling means); epsilon left unrescaled
    # errs by 17 (1700%), the learning rate without bias correction by more.
    assert float32_error < 1e-3, errors
    assert float64_error < 1e-10, errors

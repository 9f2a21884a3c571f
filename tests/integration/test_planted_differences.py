"""Planted differences: each subtle change to one side must fail the same-model check and
name the first differing layer or step; a timed path planted to compute in bfloat16 must
fail the precision audit, while the unplanted paths pass it.

Every plant is an edit of a scratch copy of the package (never of this tree), run in a real
worker with that copy on PYTHONPATH. One worker per plant: the other framework's evidence is
the unplanted one, probed once per workload and shared. Smoke size, one thread.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import dlarena
from dlarena import registry
from dlarena.cell import CellSpec, MeasureSettings, ThreadSettings, worker_request
from dlarena.executors.local import worker_environment
from dlarena.parity.check import model_facts, side
from dlarena.parity.compare import Evidence, ParityResult, compare
from dlarena.parity.probe import PROBE_BATCH, PROBE_PRECISION

pytestmark = pytest.mark.frameworks
FRAMEWORKS = ("torch", "tensorflow")
SOURCE = Path(dlarena.__file__).resolve().parent


@dataclass(frozen=True)
class Plant:
    """Replace `old` by `new` in one file of the package copy (then `more` such pairs);
    `caught`: how the check's reason starts."""

    id: str
    workload: str
    framework: str
    file: str
    old: str
    new: str
    caught: str
    more: tuple[tuple[str, str], ...] = ()


PLANTS = [
    # Optimizer extras: the losses part at the first step after the differing update.
    Plant("adam-weight-decay-1e-5", "cnn", "torch", "frameworks/torch/model.py",
          "eps=settings.epsilon,", "eps=settings.epsilon, weight_decay=1e-5,",
          "5 adam steps: losses part at step 2"),
    Plant("adam-amsgrad", "mlp", "torch", "frameworks/torch/model.py",
          "eps=settings.epsilon,", "eps=settings.epsilon, amsgrad=True,",
          "5 adam steps: losses part at step 3"),
    Plant("adam-beta-1-off-in-the-fourth-digit", "mlp", "tensorflow",
          "frameworks/_keras/model.py", "beta_1=settings.beta_1,",
          # Step 1's update is m / (1 - beta_1) = the gradient whatever beta_1 is.
          "beta_1=settings.beta_1 + 1e-4,", "5 adam steps: losses part at step 3"),
    Plant("adam-epsilon-before-bias-correction", "transformer", "tensorflow",
          "frameworks/_keras/model.py", "ops.add(ops.sqrt(v), self.epsilon * correction_2)",
          "ops.add(ops.sqrt(v), self.epsilon)", "5 adam steps: losses part at step 2"),
    # Activation variants.
    Plant("approximate-gelu", "transformer", "tensorflow", "workloads/transformer/keras.py",
          "return 0.5 * x * (1.0 + ops.erf(x * root_half))",
          "return ops.gelu(x, approximate=True)",
          "forward (inference mode): first difference at encoder_layers_0_linear2"),
    Plant("leaky-relu-slope-0.01", "mlp", "torch", "workloads/mlp/torch.py",
          "relu1=nn.ReLU(),", "relu1=nn.LeakyReLU(0.01),",
          "forward (inference mode): first difference at dense2"),
    # Pooling, padding, normalisation.
    Plant("average-instead-of-max-pooling", "cnn", "torch", "workloads/cnn/torch.py",
          "nn.MaxPool2d(2)", "nn.AvgPool2d(2)",
          "forward (inference mode): first difference at conv2_1"),
    Plant("padding-off-by-one-pixel", "cnn", "tensorflow", "workloads/cnn/keras.py",
          'keras.layers.Conv2D(c_out, 3, padding="same", use_bias=False, name=conv),',
          'keras.layers.ZeroPadding2D(((2, 0), (1, 1)), name=f"{conv}_pad"), '
          'keras.layers.Conv2D(c_out, 3, padding="valid", use_bias=False, name=conv),',
          "forward (inference mode): first difference at conv1_1"),
    Plant("batchnorm-epsilon-off-by-1-percent", "cnn", "tensorflow",
          "workloads/cnn/keras.py", "epsilon=bn.epsilon,", "epsilon=bn.epsilon * 1.01,",
          "forward (inference mode): first difference at conv1_1_bn"),
    Plant("layernorm-epsilon-off-by-1-percent", "transformer", "torch",
          "workloads/transformer/torch.py",
          "self.embedding_norm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPSILON)",
          "self.embedding_norm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPSILON * 1.01)",
          "forward (inference mode): first difference at embedding_norm"),
    # A missing or extra bias: the layout check refuses the model and names the weight.
    Plant("missing-output-bias", "mlp", "torch", "workloads/mlp/torch.py",
          "out=nn.Linear(HIDDEN[1], CLASSES),", "out=nn.Linear(HIDDEN[1], CLASSES, bias=False),",
          "not the same model: the torch model lacks out.bias"),
    Plant("extra-convolution-bias", "cnn", "tensorflow", "workloads/cnn/keras.py",
          "use_bias=False, name=conv", "use_bias=True, name=conv",
          "the tensorflow model has conv1_1.bias"),
    # Initialisation and loss.
    Plant("init-scale-1.01-on-dense2", "mlp", "tensorflow", "frameworks/_keras/model.py",
          "slot.write(weights[name])",
          'slot.write(weights[name] * (1.01 if name == "dense2.kernel" else 1.0))',
          "forward (inference mode): first difference at dense2"),
    Plant("label-smoothing-0.01", "mlp", "torch", "frameworks/torch/model.py",
          "labels.reshape(-1))", "labels.reshape(-1), label_smoothing=0.01)",
          "loss and gradients: first difference at loss"),
]

# Timed paths that compute below float32 precision while the float64 check still passes.
REDUCED_PRECISION_PLANTS = [
    Plant("torch-dense2-in-bfloat16", "mlp", "torch", "workloads/mlp/torch.py",
          "dense2=nn.Linear(HIDDEN[0], HIDDEN[1]),", "dense2=Bfloat16Linear(HIDDEN[0], HIDDEN[1]),",
          "reduced precision (torch/eager fp32: layer outputs at dense2 (inference)",
          more=(("        from torch import nn\n", "        from torch import nn\n\n"
                 "        from dlarena.frameworks.torch.bfloat16 import Bfloat16Linear\n"),)),
    Plant("keras-mixed-bfloat16-policy", "mlp", "tensorflow", "frameworks/_keras/model.py",
          "keras.config.set_dtype_policy(dtype)",
          'keras.config.set_dtype_policy("mixed_bfloat16" if dtype == "float32" else dtype)',
          "reduced precision (tensorflow/function fp32: layer outputs at dense1 (inference)"),
]
# Added to the copy for the plant above: a float32 Linear that computes in bfloat16, as a
# fast path might; float64 is untouched.
BFLOAT16_LINEAR = '''import torch
from torch import nn
from torch.nn import functional


class Bfloat16Linear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32:
            return super().forward(x)
        return functional.linear(x.bfloat16(), self.weight.bfloat16(),
                                 self.bias.bfloat16()).float()
'''


def _probe(root: Path, workload: str, framework: str,
           folder: Path) -> tuple[Evidence | None, str | None]:
    """Run a check worker on the package under `root`; its evidence, or its error."""
    info = registry.frameworks()[framework]
    cell = CellSpec(
        workload=workload, framework=framework, mode=info.default_mode, scenario="check",
        size="smoke", device="cpu", batch_size=PROBE_BATCH, precision=PROBE_PRECISION,
        threads=ThreadSettings(1, 1), seed=0,
        measure=MeasureSettings(min_window_seconds=1.0, windows=1, max_warmup_windows=0))
    env = worker_environment(cell.threads, os.environ, framework=info)
    env["PYTHONPATH"] = str(root)
    artifacts = folder / f"{workload}-{framework}.npz"
    done = subprocess.run([sys.executable, "-m", "dlarena.worker"], capture_output=True,
                          text=True, env=env, timeout=600, check=False,
                          input=worker_request(cell, task="check", artifacts=str(artifacts)))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["status"] != "ok":
        return None, str(result["error"])
    with np.load(artifacts) as saved:
        return {key: saved[key] for key in saved.files}, None


@pytest.fixture(scope="module")
def unplanted(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Evidence]:
    """This tree's evidence, probed once per (workload, framework)."""
    for framework in FRAMEWORKS:
        pytest.importorskip(framework)
    folder = tmp_path_factory.mktemp("unplanted")
    found: dict[tuple[str, str], Evidence] = {}

    def evidence(workload: str, framework: str) -> Evidence:
        if (workload, framework) not in found:
            probed, error = _probe(SOURCE.parent, workload, framework, folder)
            assert probed is not None, error
            found[(workload, framework)] = probed
        return found[(workload, framework)]

    return evidence


def _planted_tree(folder: Path, plant: Plant) -> Path:
    root = folder / "src"
    shutil.copytree(SOURCE, root / "dlarena", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "dlarena" / "frameworks" / "torch" / "bfloat16.py").write_text(BFLOAT16_LINEAR)
    path = root / "dlarena" / plant.file
    text = path.read_text()
    for old, new in ((plant.old, plant.new), *plant.more):
        assert old in text, f"{plant.file} no longer holds {old!r}: update the plant"
        text = text.replace(old, new)
    path.write_text(text)
    return root


def _compare(workload: str, evidence: dict[str, Evidence]) -> ParityResult:
    first, second = FRAMEWORKS
    return compare(workload=workload, size="smoke", facts=model_facts(workload, "smoke"),
                   first=side(first, registry.frameworks()[first].default_mode),
                   a=evidence[first],
                   second=side(second, registry.frameworks()[second].default_mode),
                   b=evidence[second])


def _planted_result(plant: Plant, unplanted: Callable[[str, str], Evidence],
                    folder: Path) -> tuple[ParityResult | None, str | None]:
    planted, error = _probe(_planted_tree(folder, plant), plant.workload, plant.framework,
                            folder)
    if planted is None:
        return None, error
    evidence = {name: unplanted(plant.workload, name) for name in FRAMEWORKS}
    evidence[plant.framework] = planted
    return _compare(plant.workload, evidence), None


@pytest.mark.parametrize("plant", PLANTS, ids=[plant.id for plant in PLANTS])
def test_a_planted_difference_is_caught_where_it_starts(
        plant: Plant, unplanted: Callable[[str, str], Evidence], tmp_path: Path) -> None:
    result, refused = _planted_result(plant, unplanted, tmp_path)
    if result is None:  # the worker refused the model: the layout check names the weight
        assert refused is not None and plant.caught in refused, refused
        return
    assert not result.same_model
    assert result.reason is not None and result.reason.startswith(plant.caught), result.reason


@pytest.mark.parametrize("plant", REDUCED_PRECISION_PLANTS,
                         ids=[plant.id for plant in REDUCED_PRECISION_PLANTS])
def test_a_timed_path_in_reduced_precision_fails_the_audit(
        plant: Plant, unplanted: Callable[[str, str], Evidence], tmp_path: Path) -> None:
    result, refused = _planted_result(plant, unplanted, tmp_path)
    assert result is not None, refused
    assert result.same_model, result.reason  # float64 cannot see it
    assert not result.passed
    assert result.reason is not None and result.reason.startswith(plant.caught), result.reason
    [audit] = result.reduced_precision
    assert audit.worst.bits < 11  # bfloat16 keeps 8


@pytest.mark.parametrize("workload", sorted({plant.workload for plant in PLANTS}))
def test_the_unplanted_implementations_pass_and_keep_float32_precision(
        workload: str, unplanted: Callable[[str, str], Evidence]) -> None:
    result = _compare(workload, {name: unplanted(workload, name) for name in FRAMEWORKS})
    assert result.passed, result.reason
    assert len(result.audits) == 2
    assert all(audit.worst.ratio < 10 for audit in result.audits), [
        audit.describe() for audit in result.audits]

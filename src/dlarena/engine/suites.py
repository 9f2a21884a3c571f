"""Named sets of cells. `default` is what `make run` measures.

A suite chooses its frameworks by rule, never by name, so a new framework folder joins every
suite its rule admits: `DEFAULT_SET` (the frameworks whose INFO says `in_default_set`: what
`make run` installs and compares), `INSTALLED` (every framework installed here) or
`FRONT_ENDS` (a front end on each of its backends, with the frameworks beneath: Keras on
TensorFlow, JAX and PyTorch beside JAX and PyTorch themselves) or both the default set and
the front ends (`DEFAULT_SET_AND_FRONT_ENDS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_SET = "default set"
INSTALLED = "every installed framework"
# The installed frameworks that run another's implementations (FrameworkInfo.implementations_of),
# that other one, and the frameworks they run on (FrameworkInfo.runs_on).
FRONT_ENDS = "a front end on every backend, and the frameworks beneath"
# Both: the default set (a missing member is reported), and the installed front ends on their
# backends (Keras on JAX and on PyTorch ship differently from TensorFlow's Keras).
DEFAULT_SET_AND_FRONT_ENDS = "the default set, and a front end on every backend"
FRAMEWORK_RULES = (DEFAULT_SET, INSTALLED, FRONT_ENDS, DEFAULT_SET_AND_FRONT_ENDS)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    workloads: tuple[str, ...]
    # A rule of FRAMEWORK_RULES; each workload is measured in the frameworks that implement it.
    frameworks: str
    scenarios: tuple[str, ...]
    size: str
    # Worker processes per cell: two give memory figures a confidence interval and show
    # the spread between processes.
    processes: int = 1
    modes: tuple[str, ...] = ("default",)
    # Per-workload cell options of the convergence scenario (dataset, target accuracy).
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Workloads measured in other scenarios than `scenarios` (unless --scenarios is given).
    scenarios_by_workload: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Workloads measured in other modes than `modes` (unless --modes is given).
    modes_by_workload: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Timed windows per cell when not the size's default (unless --windows is given).
    windows: int | None = None
    # Measure in rounds until every pair is decided (measure.stopping), instead of a fixed
    # number of processes and windows (unless --until-decided / --no-until-decided).
    until_decided: bool = False

    def __post_init__(self) -> None:
        if self.frameworks not in FRAMEWORK_RULES:
            raise ValueError(f"suite {self.name}: frameworks must be one of {FRAMEWORK_RULES}")

    def scenarios_for(self, workload: str) -> tuple[str, ...]:
        return self.scenarios_by_workload.get(workload, self.scenarios)

    def modes_for(self, workload: str) -> tuple[str, ...]:
        return self.modes_by_workload.get(workload, self.modes)


_ALL = (
    Suite(
        "default", "every model at cpu size, the default set of frameworks: training throughput of "
        "the paper's six models and a BERT-style transformer, train and infer for mlp and cnn",
        workloads=("mlp", "cnn", "alexnet", "vgg19", "resnet50", "mobilenet_v2", "gnmt",
                   "ncf", "transformer"),
        frameworks=DEFAULT_SET, scenarios=("train",), size="cpu",
        scenarios_by_workload={"mlp": ("train", "infer"), "cnn": ("train", "infer")},
        until_decided=True,
    ),
    Suite(
        "smoke", "the default suite at smoke size: seconds per cell, for CI",
        workloads=("mlp", "cnn"), frameworks=DEFAULT_SET,
        scenarios=("train", "infer"), size="smoke",
    ),
    Suite(
        "graphs", "eager vs compiled: every mode, start-up, train, infer, batch-1 latency",
        workloads=("mlp", "cnn", "lstm"), frameworks=INSTALLED,
        scenarios=("startup", "train", "infer", "latency"), size="cpu", modes=("all",),
    ),
    Suite(
        "front-ends", "what a front end costs: Keras on each of its backends beside the bare "
        "framework beneath (Keras on JAX vs JAX, Keras on PyTorch vs PyTorch), every mode, "
        "start-up, train and infer",
        workloads=("mlp", "cnn", "lstm"), frameworks=FRONT_ENDS,
        scenarios=("startup", "train", "infer"), size="cpu", modes=("all",),
    ),
    Suite(
        "paper", "Paszke et al. 2019, Table 1: training throughput of AlexNet, VGG-19, "
        "ResNet-50, MobileNetV2, GNMTv2 and NCF, fp32, beside the published figures "
        "(--size cpu on a machine without a GPU)",
        workloads=("alexnet", "vgg19", "resnet50", "mobilenet_v2", "gnmt", "ncf"),
        frameworks=INSTALLED, scenarios=("train",), size="full",
    ),
    Suite(
        "accuracy", "seed 000's study on real data: mlp on MNIST, cnn on Fashion-MNIST, "
        "ncf on MovieLens-100K (hit rate@10), 20 epochs, 3 seeds: accuracy, training time, "
        "memory by phase",
        workloads=("mlp", "cnn", "ncf"), frameworks=DEFAULT_SET,
        scenarios=("convergence",), size="smoke", processes=3,
        options={
            "mlp": {"dataset": "mnist", "epochs": 20, "target_accuracy": 0.97},
            "cnn": {"dataset": "fashion-mnist", "epochs": 20, "target_accuracy": 0.88},
            # NeuMF reaches HR@10 of about 0.68 on MovieLens-1M in the NCF paper.
            "ncf": {"dataset": "movielens-100k", "epochs": 20, "target_accuracy": 0.6},
        },
    ),
    Suite(
        "devex", "ease of development, measured (counts, no timing): code size of every "
        "implementation, whether a breakpoint in the forward pass stops (eager and default "
        "modes; every mode for mlp), and the tracebacks of 8 mistakes planted in scratch "
        "copies of mlp and cnn (worker/devex/mistakes.py)",
        workloads=("mlp", "cnn", "alexnet", "vgg19", "resnet50", "mobilenet_v2", "gnmt",
                   "ncf", "lstm", "transformer"),
        frameworks=INSTALLED, scenarios=("devex",), size="smoke", modes=("eager", "default"),
        # Every compiled mode compiles under the probe's trace function (minutes a cell for
        # torch.compile here): once, on the model the mistakes are planted in.
        modes_by_workload={"mlp": ("all",)},
    ),
    Suite(
        "data", "input pipelines on real files: JPEG class folders (32x32 for cnn, 224x224 "
        "cropped to 64 for resnet50) and record shards, each framework's own loader with 0, "
        "1 and 2 loader workers; then the training step fed from files against fed from "
        "memory (the train scenario), each in three worker processes of its own, paired by "
        "round: input-bound below 0.9x",
        workloads=("cnn", "resnet50"), frameworks=INSTALLED,
        # Three processes, not until decided: the runner's stopping rule decides pairs of
        # frameworks within a group; files against memory crosses two groups, which it does
        # not yet drive (a fixed three rounds give every ratio an interval).
        scenarios=("dataload", "train-from-files", "train"), size="cpu", processes=3,
    ),
)

_DEPLOYMENT = ("save-weights", "save-model", "save-program", "export-onnx", "export-litert",
               "export-aotinductor", "serve", "serve-torchserve")
_ALL_WITH_DEPLOYMENT = (
    *_ALL,
    Suite(
        "deploy", "shipping a model: save and load in a fresh process (weights, model, "
        "program), export to ONNX and LiteRT run in their runtimes, serving over HTTP under "
        "closed- and open-loop load (dlarena's small server; TorchServe for PyTorch); "
        "PyTorch, TensorFlow and JAX, and Keras on JAX and on PyTorch (each ships "
        "differently)",
        workloads=("mlp", "cnn", "resnet50", "transformer"),
        frameworks=DEFAULT_SET_AND_FRONT_ENDS,
        scenarios=_DEPLOYMENT, size="cpu", windows=6,
    ),
)

SUITES: dict[str, Suite] = {suite.name: suite for suite in _ALL_WITH_DEPLOYMENT}

"""The fake framework's one implementation, of every workload.

It implements every workload with a small fixed amount of NumPy work per step. Faults are
injected through the environment, so tests exercise the real worker-process path:
DLARENA_FAKE_FAULT = "<fault>[:<workload>[:<scenario>]]", fault one of
abort (os.abort), hang (sleeps forever), spawn-hang (starts a child process that sleeps,
then hangs), raise (a Python exception), exit (exit code 3). Two more strike its fork server
(runtime.py's `preload`) instead: preload-refused (no preload step), preload-exit (the server
exits with code 3 before it is ready).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from dlarena.contract import STATE_SUFFIXES, Implementation, Weights

FAULT_VARIABLE = "DLARENA_FAKE_FAULT"


class FakeImplementation(Implementation):
    def build(self) -> None:
        inject_fault(self.cell.workload, self.cell.scenario)
        self.weights = self.workload.initial_weights(self.cell.size, self.cell.seed)
        # Its "compiler" cuts a step's work to a sliver: modes differ clearly in tests.
        side = 48 if self.cell.mode == "eager" else 8
        self.matrix = np.random.default_rng(0).random((side, side))
        # The loss a step reports is the same in every mode: the modes compute one function.
        fixed = np.random.default_rng(0).random((48, 48))
        self.loss = float(np.tanh(fixed @ fixed).sum())

    def prepare(self, *, training: bool) -> None:
        self.training = training

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        return inputs, labels

    def train_step(self, batch: Any) -> Any:
        np.tanh(self.matrix @ self.matrix)  # the work a step costs in this mode
        return self.loss

    def infer_step(self, batch: Any) -> Any:
        self.matrix @ self.matrix  # the fixed amount of work a step costs
        # Equal logits, whatever the inputs: a convergence run of the fake stays at chance.
        return np.zeros((len(batch[1]), 10), dtype=np.float32)

    def data_layout(self) -> str:
        return "contiguous"

    def compilation_stats(self) -> dict[str, float]:
        return {}

    def activations(self, batch: Any) -> Weights:
        return {"out": np.zeros((len(batch[1]), 10), np.float32)}

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        return 0.0, {name: np.zeros_like(value) for name, value in self.weights.items()
                     if not name.endswith(STATE_SUFFIXES)}

    def hyperparameters(self) -> dict[str, Any]:
        return {"optimizer": type(self.optimizer_settings()).__name__}

    def trainable_parameter_count(self) -> int:
        return self.workload.trainable_parameter_count(self.cell.size)

    def get_weights(self) -> Weights:
        return {name: value.copy() for name, value in self.weights.items()}

    def set_weights(self, weights: Weights) -> None:
        self.weights = {name: value.copy() for name, value in weights.items()}


def inject_fault(workload: str, scenario: str) -> None:
    spec = os.environ.get(FAULT_VARIABLE, "")
    if not spec:
        return
    fault, *where = spec.split(":")
    if fault.startswith("preload-"):
        return  # the fork server's (FakeRuntime.preload)
    if (where and where[0] != workload) or (len(where) > 1 and where[1] != scenario):
        return
    if fault == "abort":
        os.abort()
    if fault == "spawn-hang":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    if fault in ("hang", "spawn-hang"):
        while True:
            time.sleep(60)
    if fault == "exit":
        os._exit(3)
    if fault == "raise":
        raise RuntimeError(f"injected fault in {workload}/{scenario} <script>alert(1)</script>")
    raise ValueError(f"unknown fault {fault!r} in {FAULT_VARIABLE}")

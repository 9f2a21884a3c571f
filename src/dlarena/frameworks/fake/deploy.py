"""The fake framework's deployment paths, in NumPy, with planted faults for the tests.

Its "model" predicts from its weights (so a loader that reads nothing is caught), saves them
with `np.savez` in every kind, and has no portable exporter: every export fails, saying so.
Cell options plant faults: `plant_load_difference` (the loader perturbs one weight by this
much, so the loaded model's outputs differ) and `plant_load_error` (the loader raises).
"""

from __future__ import annotations

import os

import numpy as np

from dlarena.contract import Deployment, ExportUnsupported, Predict, Weights
from dlarena.frameworks.fake.model import FakeImplementation

PLANT_LOAD_DIFFERENCE = "plant_load_difference"
PLANT_LOAD_ERROR = "plant_load_error"


def _outputs(weights: Weights, inputs: np.ndarray) -> np.ndarray:
    """Ten scores per sample that depend on every weight and on the sample."""
    signature = np.array([float(np.sum(value)) for _, value in sorted(weights.items())])
    scores = np.resize(signature, 10)
    flat = inputs.reshape(len(inputs), -1).astype(np.float64)
    outputs: np.ndarray = (flat.mean(axis=1, keepdims=True) + scores).astype(np.float32)
    return outputs


class FakeDeployment(Deployment):
    impl: FakeImplementation

    def format_name(self, kind: str) -> str:
        return f"fake {kind} (.npz)"

    def bit_exact(self, kind: str) -> bool:
        return True

    def predict(self, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return _outputs(self.impl.weights, inputs)

    def save(self, kind: str, folder: str, inputs: np.ndarray) -> str:
        path = os.path.join(folder, f"{kind}.npz")
        np.savez(path, **self.impl.weights)  # type: ignore[arg-type]
        return path

    def load(self, kind: str, path: str) -> Predict:
        if self.impl.cell.options.get(PLANT_LOAD_ERROR):
            raise ValueError(f"planted: cannot read {os.path.basename(path)}")
        with np.load(path) as stored:
            weights = {name: stored[name] for name in stored.files}
        planted = self.impl.cell.options.get(PLANT_LOAD_DIFFERENCE)
        if planted:
            first = sorted(weights)[0]
            weights[first] = weights[first] + float(planted)
        return lambda inputs: _outputs(weights, inputs)

    def export(self, portable_format: str, folder: str, inputs: np.ndarray) -> str:
        raise ExportUnsupported(f"the fake framework has no {portable_format} exporter")

    def portable_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return inputs


DEPLOYMENT = FakeDeployment

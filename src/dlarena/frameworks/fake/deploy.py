"""The fake framework's deployment paths, in NumPy, with planted faults for the tests.

Its "model" predicts from its weights (so a loader that reads nothing is caught), saves them
with `np.savez` in every kind, and has no portable exporter: every export is unsupported,
saying so. Cell options plant faults: `plant_load_difference` (the loader perturbs one weight
by this much, so the loaded model's outputs differ), `plant_load_error` (the loader raises)
and `plant_export_difference` (an ONNX export is written after all, its scores off by this
much: 0 writes a correct one).
"""

from __future__ import annotations

import os

import numpy as np

from dlarena.contract import Deployment, ExportUnsupported, Predict, Weights
from dlarena.contract.deployment import contiguous_in
from dlarena.frameworks.fake.model import FakeImplementation

PLANT_LOAD_DIFFERENCE = "plant_load_difference"
PLANT_LOAD_ERROR = "plant_load_error"
PLANT_EXPORT_DIFFERENCE = "plant_export_difference"


def _scores(weights: Weights) -> np.ndarray:
    signature = np.array([float(np.sum(value)) for _, value in sorted(weights.items())])
    return np.resize(signature, 10)


def _outputs(weights: Weights, inputs: np.ndarray) -> np.ndarray:
    """Ten scores per sample that depend on every weight and on the sample."""
    scores = _scores(weights)
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
        planted = self.impl.cell.options.get(PLANT_EXPORT_DIFFERENCE)
        if planted is None or portable_format != "onnx":
            raise ExportUnsupported(f"the fake framework has no {portable_format} exporter")
        path = os.path.join(folder, "model.onnx")
        _onnx_model(_scores(self.impl.weights) + float(planted), path)
        return path

    def portable_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return contiguous_in(self.impl.cell.dtype, inputs)


def _onnx_model(scores: np.ndarray, path: str) -> None:
    """The fake model as ONNX: the mean of each flattened sample plus the scores."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Flatten", ["inputs"], ["flat"], axis=1),
         helper.make_node("ReduceMean", ["flat"], ["mean"], axes=[1], keepdims=1),
         helper.make_node("Add", ["mean", "scores"], ["outputs"])],
        "fake", [helper.make_tensor_value_info("inputs", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(scores.astype(np.float32).reshape(1, -1), "scores")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


DEPLOYMENT = FakeDeployment

"""Keras on PyTorch: the Keras paths (frameworks/_keras/deploy.py). Its program is what
`model.export(format="torch")` writes: a `torch.export` program (`.pt2`), loaded with
`torch.export.load`. ONNX: `model.export(format="onnx")`, which uses PyTorch's exporter.
LiteRT: `model.export(format="litert")` through `litert-torch`, when installed.
(A SavedModel from this backend needs `torch_xla`, which is not installed here.)
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from dlarena.contract import ExportUnsupported, Predict
from dlarena.frameworks._keras.deploy import ONNX_OPSET, KerasDeployment, refused
from dlarena.frameworks.torch.deploy import MAX_BATCH

LITERT_MISSING = ("Keras exports LiteRT from PyTorch through litert-torch, which is not "
                  "installed")


class KerasTorchDeployment(KerasDeployment):
    program_format = "torch.export (Keras)"

    def save_program(self, folder: str) -> str:
        import torch

        path = os.path.join(folder, "model.pt2")
        # The batch dimension symbolic, as PyTorch's own program (frameworks/torch/deploy.py);
        # without it Keras traces at batch 1 and the program refuses any other.
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        with refused("Keras' torch.export"):
            self.keras_export(path, "torch", dynamic_shapes={0: batch})
        return path

    def load_program(self, path: str) -> Predict:
        import torch

        module = torch.export.load(path).module()

        def predict(inputs: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                outputs = module(torch.as_tensor(self.portable_inputs(inputs)))
            return np.asarray(outputs.detach().cpu().numpy())
        return predict

    def export_onnx(self, folder: str) -> str:
        path = os.path.join(folder, "model.onnx")
        with refused("Keras' ONNX export (torch.onnx)"):
            self.keras_export(path, "onnx", opset_version=ONNX_OPSET)
        return path

    def export_litert(self, folder: str, inputs: np.ndarray) -> str:
        if importlib.util.find_spec("litert_torch") is None:
            raise ExportUnsupported(LITERT_MISSING)
        path = os.path.join(folder, "model.tflite")
        with refused("Keras' LiteRT export (litert-torch)"):
            self.keras_export(path, "litert")
        return path


DEPLOYMENT = KerasTorchDeployment

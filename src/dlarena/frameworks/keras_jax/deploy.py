"""Keras on JAX: the Keras paths (frameworks/_keras/deploy.py). Its program is the SavedModel
that `model.export` writes through `jax2tf`, and LiteRT converts that SavedModel, as on
TensorFlow. ONNX: Keras exports a JAX model through `jax2onnx`, which this stack does not
install (see frameworks/jax/deploy.py): unsupported, saying why. A SavedModel that
TensorFlow cannot read because JAX wrote newer StableHLO than TensorFlow reads (JAX 0.10.2's
exact `erf` against TensorFlow 2.21) is unsupported too, in the runtime's words: the file
would not load where it is shipped.
"""

from __future__ import annotations

import importlib.util
import os

from dlarena.contract import ExportUnsupported, Predict
from dlarena.frameworks._keras.deploy import ONNX_OPSET, SavedModelDeployment, refused
from dlarena.frameworks.jax.deploy import JAX2ONNX_MISSING, refusing_newer_stablehlo


class KerasJaxDeployment(SavedModelDeployment):
    def load_program(self, path: str) -> Predict:
        # TensorFlow reads the embedded StableHLO at the first call, not at load.
        return refusing_newer_stablehlo(super().load_program(path))

    def export_onnx(self, folder: str) -> str:
        if importlib.util.find_spec("jax2onnx") is None:
            raise ExportUnsupported(f"Keras exports ONNX from JAX through jax2onnx, and "
                                    f"{JAX2ONNX_MISSING}")
        path = os.path.join(folder, "model.onnx")
        with refused("Keras' ONNX export (jax2onnx)"):
            self.keras_export(path, "onnx", opset_version=ONNX_OPSET)
        return path


DEPLOYMENT = KerasJaxDeployment

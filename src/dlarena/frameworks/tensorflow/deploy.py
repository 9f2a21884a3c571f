"""TensorFlow/Keras' save, load and export paths (frameworks/_keras/deploy.py): `.weights.h5`,
`.keras`, a SavedModel (`model.export`) as its program, LiteRT converted from that SavedModel,
and ONNX through `tf2onnx` from a `tf.function` of the model.
"""

from __future__ import annotations

import os

from dlarena.frameworks._keras.deploy import ONNX_OPSET, SavedModelDeployment, refused


class TensorFlowDeployment(SavedModelDeployment):
    def export_onnx(self, folder: str) -> str:
        path = os.path.join(folder, "model.onnx")
        with refused("Keras' ONNX export (tf2onnx)"):
            self.keras_export(path, "onnx", opset_version=ONNX_OPSET)
        return path


DEPLOYMENT = TensorFlowDeployment

"""TensorFlow/Keras' save, load and export paths: `.weights.h5`, `.keras`, SavedModel
(`model.export`), ONNX through `tf2onnx`, LiteRT through TensorFlow's converter.

The LiteRT converter is fed the SavedModel: converting the Keras 3 model's concrete function
directly (`from_concrete_functions`) produced a model whose outputs were garbage (1e34, NaN)
in both interpreters on this stack, while the SavedModel route matched to 1e-7.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dlarena.contract import Deployment, ExportUnsupported, Predict
from dlarena.contract.deployment import contiguous_in, inference
from dlarena.frameworks._keras.model import KerasModel

_FORMATS = {"weights": ".weights.h5", "model": ".keras", "program": "SavedModel"}
_FILES = {"weights": "model.weights.h5", "model": "model.keras", "program": "saved_model"}
ONNX_OPSET = 17


class KerasDeployment(Deployment):
    impl: KerasModel

    def format_name(self, kind: str) -> str:
        return _FORMATS[kind]

    def bit_exact(self, kind: str) -> bool:
        # Weights into the same model: the same graph. A .keras file rebuilds the layers from
        # their config, a SavedModel is a traced graph: equal within float32 tolerance.
        return kind == "weights"

    def predict(self, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return inference(self.impl, inputs, labels)

    def portable_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return contiguous_in(self.impl.cell.dtype, self.impl.native_inputs(inputs))

    def _signature(self) -> Any:
        import tensorflow as tf

        tensor = self.impl.model.inputs[0]
        return (tf.TensorSpec((None, *tensor.shape[1:]), tf.as_dtype(tensor.dtype),
                              name="inputs"),)

    def save(self, kind: str, folder: str, inputs: np.ndarray) -> str:
        path = os.path.join(folder, _FILES[kind])
        model = self.impl.model
        if kind == "weights":
            model.save_weights(path)
        elif kind == "model":
            model.save(path)
        else:
            model.export(path, format="tf_saved_model", input_signature=self._signature(),
                         verbose=False)
        return path

    def load(self, kind: str, path: str) -> Predict:
        import keras
        import tensorflow as tf

        if kind == "weights":
            self.impl.model.load_weights(path)
            labels = np.zeros(1, np.int64)
            return lambda inputs: self.predict(inputs, np.resize(labels, len(inputs)))
        if kind == "model":
            model = keras.saving.load_model(path)
            return lambda inputs: np.asarray(
                model(self.portable_inputs(inputs), training=False))
        program = tf.saved_model.load(path)
        return lambda inputs: np.asarray(program.serve(self.portable_inputs(inputs)))

    def export(self, portable_format: str, folder: str, inputs: np.ndarray) -> str:
        import tensorflow as tf

        try:
            if portable_format == "onnx":
                import tf2onnx

                path = os.path.join(folder, "model.onnx")
                model = self.impl.model
                function = tf.function(lambda x: model(x, training=False),
                                       input_signature=self._signature())
                tf2onnx.convert.from_function(function, input_signature=self._signature(),
                                              opset=ONNX_OPSET, output_path=path)
                return path
            saved = self.save("program", folder, inputs)
            path = os.path.join(folder, "model.tflite")
            with open(path, "wb") as file:
                file.write(tf.lite.TFLiteConverter.from_saved_model(saved).convert())
            return path
        except Exception as error:  # the converter's own words are the result
            text = str(error).strip().splitlines()
            raise ExportUnsupported(f"{portable_format} conversion failed: "
                                    f"{type(error).__name__}: "
                                    f"{text[0][:300] if text else '(no message)'}") from error


DEPLOYMENT = KerasDeployment

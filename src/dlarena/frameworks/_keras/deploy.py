"""Keras 3's save, load and export paths, shared by its three backends (`tensorflow`,
`keras-jax`, `keras-torch`), each of which names its program format and its exporters.

- Weights: `model.save_weights` (`.weights.h5`) into the built model; bit for bit.
- Model: `model.save` (`.keras`: architecture and weights), read by
  `keras.saving.load_model` on the cell's backend; within float32 tolerance (the layers are
  rebuilt from their config).
- Program, ONNX and LiteRT: what the backend's `model.export` offers (see each backend's
  `deploy.py`). Where the backend's exporter refuses (Keras' own backend check, a converter
  that is not installed, an op the converter cannot translate), the cell is `unsupported`
  with the exporter's own words; what an export computes is always checked against Keras on
  the same inputs, and a difference fails the cell.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from dlarena.contract import Deployment, ExportUnsupported, Predict
from dlarena.contract.deployment import contiguous_in, inference
from dlarena.frameworks._keras.model import KerasModel

_FORMATS = {"weights": ".weights.h5", "model": ".keras"}
_FILES = {"weights": "model.weights.h5", "model": "model.keras"}
ONNX_OPSET = 17


@contextmanager
def refused(what: str) -> Iterator[None]:
    """An exporter's exception inside the block is its refusal of this model here: the
    cell's `unsupported` outcome, in the exporter's own words."""
    try:
        yield
    except ExportUnsupported:
        raise
    except Exception as error:
        text = str(error).strip().splitlines()
        raise ExportUnsupported(f"{what} failed: {type(error).__name__}: "
                                f"{text[0][:300] if text else '(no message)'}") from error


class KerasDeployment(Deployment):
    """`.weights.h5` and `.keras` on every backend; the backend's program and exporters."""

    impl: KerasModel
    program_format: str  # the backend's name for its code-free program

    def format_name(self, kind: str) -> str:
        return self.program_format if kind == "program" else _FORMATS[kind]

    def bit_exact(self, kind: str) -> bool:
        # Weights into the same model: the same graph. A .keras file rebuilds the layers from
        # their config, a program is traced: equal within float32 tolerance.
        return kind == "weights"

    def predict(self, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return inference(self.impl, inputs, labels)

    def portable_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return contiguous_in(self.impl.cell.dtype, self.impl.native_inputs(inputs))

    def input_shape(self) -> tuple[Any, ...]:
        """The model's input shape with the batch dimension free (None), and its dtype."""
        tensor = self.impl.model.inputs[0]
        return (None, *tensor.shape[1:]), tensor.dtype

    def keras_export(self, path: str, export_format: str, **options: Any) -> None:
        """`model.export` in `export_format`, its input spec's batch dimension free."""
        import keras

        shape, dtype = self.input_shape()
        spec = keras.InputSpec(shape=shape, dtype=dtype, name="inputs")
        self.impl.model.export(path, format=export_format, input_signature=[spec],
                               verbose=False, **options)

    def save(self, kind: str, folder: str, inputs: np.ndarray) -> str:
        if kind == "program":
            return self.save_program(folder)
        path = os.path.join(folder, _FILES[kind])
        if kind == "weights":
            self.impl.model.save_weights(path)
        else:
            self.impl.model.save(path)
        return path

    def load(self, kind: str, path: str) -> Predict:
        import keras

        if kind == "weights":
            self.impl.model.load_weights(path)
            labels = np.zeros(1, np.int64)
            return lambda inputs: self.predict(inputs, np.resize(labels, len(inputs)))
        if kind == "program":
            return self.load_program(path)
        model = keras.saving.load_model(path)
        return lambda inputs: np.asarray(keras.ops.convert_to_numpy(
            model(self.portable_inputs(inputs), training=False)))

    def export(self, portable_format: str, folder: str, inputs: np.ndarray) -> str:
        if portable_format == "onnx":
            return self.export_onnx(folder)
        return self.export_litert(folder, inputs)

    @abstractmethod
    def save_program(self, folder: str) -> str:
        """The backend's code-free program inside `folder`; the path."""

    @abstractmethod
    def load_program(self, path: str) -> Predict:
        """Run a saved program in this (fresh) process."""

    @abstractmethod
    def export_onnx(self, folder: str) -> str: ...

    @abstractmethod
    def export_litert(self, folder: str, inputs: np.ndarray) -> str: ...


class SavedModelDeployment(KerasDeployment):
    """Backends whose `model.export` writes a TensorFlow SavedModel (TensorFlow natively, JAX
    through `jax2tf`): that is their program, and LiteRT converts it."""

    program_format = "SavedModel"

    def signature(self) -> Any:
        import tensorflow as tf

        shape, dtype = self.input_shape()
        return (tf.TensorSpec(shape, tf.as_dtype(dtype), name="inputs"),)

    def save_program(self, folder: str) -> str:
        path = os.path.join(folder, "saved_model")
        with refused("Keras' SavedModel export"):
            self.impl.model.export(path, format="tf_saved_model",
                                   input_signature=self.signature(), verbose=False)
        return path

    def load_program(self, path: str) -> Predict:
        import tensorflow as tf

        program = tf.saved_model.load(path)
        return lambda inputs: np.asarray(program.serve(self.portable_inputs(inputs)))

    def export_litert(self, folder: str, inputs: np.ndarray) -> str:
        # From the SavedModel: converting the Keras model's concrete function directly
        # (`from_concrete_functions`) gave outputs of 1e34 and NaN in both interpreters.
        import tensorflow as tf

        saved = self.save_program(folder)
        path = os.path.join(folder, "model.tflite")
        with refused("the LiteRT converter"):
            converted = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
        with open(path, "wb") as file:
            file.write(converted)
        return path

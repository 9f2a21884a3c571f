"""JAX's save, load and export paths: an Orbax checkpoint of the Flax variables, a
`jax.export` program, LiteRT through `jax2tf` (a SavedModel, then TensorFlow's converter).

- Weights: Orbax (`StandardCheckpointer`), the checkpoint library Flax's documentation uses
  and points to in place of the deprecated `flax.training.checkpoints`; the variables are
  restored into the built model's own tree, on its device. Bit for bit: the same compiled
  module on the same values.
- Model (architecture and weights in one file): JAX has no such format. A Flax Linen module
  is Python code, and its variables are a tree of arrays; the cell fails saying so.
- Program: `jax.export` serialises the jitted forward pass (StableHLO, the batch dimension
  symbolic, the weights as constants) and `jax.export.deserialize` runs it without the
  model's code.
- LiteRT: `jax2tf.convert` (native serialisation: the StableHLO inside an `XlaCallModule`
  op) saved as a SavedModel, which TensorFlow's LiteRT converter lowers.
- ONNX: `jax2onnx` (0.17.1, the newest) requires orbax-checkpoint < 0.11.37, so installing it
  would downgrade this stack's 0.12.8 (and add 18 packages): `make` does not install it.
  The route through `jax2tf` and `tf2onnx` fails here: tf2onnx cannot convert the
  `XlaCallModule` op. The cell fails saying why.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.contract import Deployment, ExportUnsupported, Predict
from dlarena.contract.deployment import contiguous_in, inference
from dlarena.frameworks.jax.model import JaxModel

_FORMATS = {"weights": "Orbax checkpoint", "program": "jax.export"}
_FILES = {"weights": "checkpoint", "program": "model.jax_exported"}
_NO_MODEL_FORMAT = ("JAX has no format holding architecture and weights: a Flax Linen module "
                    "is Python code (save-weights and save-program are JAX's formats)")
JAX2ONNX_MISSING = ("jax2onnx is not installed: jax2onnx 0.17.1 requires orbax-checkpoint "
                 "< 0.11.37 and would downgrade this stack's 0.12.8, so make does not install "
                 "it (jax2tf then tf2onnx fails: tf2onnx cannot convert jax2tf's XlaCallModule "
                 "op)")

_PRODUCED = re.compile(r"produced by:? StableHLO_v([0-9.]+)")
_READER = re.compile(r"deserialize portable artifact using StableHLO_v([0-9.]+)")
_UNKNOWN_OP = re.compile(r"unregistered operation '([^']+)'")


def stablehlo_refusal(message: str) -> str | None:
    """The reason, when `message` is a runtime refusing a StableHLO program written by a newer
    StableHLO than it reads (TensorFlow's `XlaCallModule` loading what `jax2tf` wrote with
    another JAX release); None for any other error. A stack whose exporter writes files its
    own runtime cannot read ships nothing: that cell is a row saying so, not a dlarena
    failure. Only this refusal: every other load error still fails the cell."""
    reader = _READER.search(message)
    if reader is None:
        return None
    produced = _PRODUCED.search(message)
    operation = _UNKNOWN_OP.search(message)
    return (f"the runtime cannot read the program: it reads StableHLO up to "
            f"{reader.group(1)}, the program was written as StableHLO "
            f"{produced.group(1) if produced else '(version not stated)'}"
            + (f", and {operation.group(1)} is unknown to it" if operation else "")
            + " (a JAX and a TensorFlow of other releases than this stack's)")


def refusing_newer_stablehlo(predict: Predict) -> Predict:
    """`predict`, with a StableHLO version refusal (stablehlo_refusal) turned into the
    cell's `unsupported` outcome."""
    def guarded(inputs: np.ndarray) -> np.ndarray:
        try:
            return predict(inputs)
        except Exception as error:
            reason = stablehlo_refusal(str(error))
            if reason is None:
                raise
            raise ExportUnsupported(reason) from error
    return guarded


class JaxDeployment(Deployment):
    impl: JaxModel

    def format_name(self, kind: str) -> str:
        if kind not in _FORMATS:
            raise ExportUnsupported(_NO_MODEL_FORMAT)
        return _FORMATS[kind]

    def bit_exact(self, kind: str) -> bool:
        # Restored values into the same module; an exported program is compiled anew from
        # StableHLO with the weights as constants, which XLA may fold.
        return kind == "weights"

    def predict(self, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return inference(self.impl, inputs, labels)

    def portable_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return contiguous_in(self.impl.cell.dtype, self.impl.native_inputs(inputs))

    def _forward(self) -> Callable[[Any], Any]:
        """The inference pass over native inputs, the current weights closed over."""
        module, variables = self.impl.module, self.impl.variables()
        return lambda x: module.apply(variables, x, training=False)

    def _exported(self, inputs: np.ndarray) -> Any:
        import jax
        from jax import export

        native = self.portable_inputs(inputs)
        batch = export.symbolic_shape("batch")[0]
        return export.export(jax.jit(self._forward()))(
            _spec((batch, *native.shape[1:]), native.dtype))

    def save(self, kind: str, folder: str, inputs: np.ndarray) -> str:
        path = os.path.join(folder, _FILES[kind])
        if kind == "weights":
            import orbax.checkpoint as ocp

            with ocp.StandardCheckpointer() as checkpointer:
                checkpointer.save(path, self.impl.variables())
                checkpointer.wait_until_finished()
        else:
            with open(path, "wb") as file:
                file.write(self._exported(inputs).serialize())
        return path

    def load(self, kind: str, path: str) -> Predict:
        import jax

        if kind == "weights":
            import orbax.checkpoint as ocp

            # The built model's tree gives every array's shape, dtype and device.
            target = jax.tree_util.tree_map(
                lambda array: _spec(array.shape, array.dtype, sharding=array.sharding),
                self.impl.variables())
            with ocp.StandardCheckpointer() as checkpointer:
                self.impl.replace_variables(checkpointer.restore(path, target))
            labels = np.zeros(1, np.int64)
            return lambda inputs: self.predict(inputs, np.resize(labels, len(inputs)))
        from jax import export

        with open(path, "rb") as file:
            program = jax.jit(export.deserialize(bytearray(file.read())).call)
        return lambda inputs: np.asarray(program(self.portable_inputs(inputs)))

    def export(self, portable_format: str, folder: str, inputs: np.ndarray) -> str:
        if portable_format == "onnx":
            if importlib.util.find_spec("jax2onnx") is None:
                raise ExportUnsupported(JAX2ONNX_MISSING)
            raise ExportUnsupported("jax2onnx export is not wired up yet")
        try:
            return self._litert(folder, inputs)
        except Exception as error:  # the converter's own words are the result
            text = str(error).strip().splitlines()
            raise ExportUnsupported(f"{portable_format} conversion failed: "
                                    f"{type(error).__name__}: "
                                    f"{text[0][:300] if text else '(no message)'}") from error

    def _litert(self, folder: str, inputs: np.ndarray) -> str:
        import tensorflow as tf
        from jax.experimental import jax2tf

        native = self.portable_inputs(inputs)
        signature = [tf.TensorSpec((None, *native.shape[1:]), tf.as_dtype(native.dtype),
                                   name="inputs")]
        converted = jax2tf.convert(self._forward(), polymorphic_shapes=["(batch, ...)"])
        module = tf.Module()
        module.serve = tf.function(converted, autograph=False, input_signature=signature)
        saved = os.path.join(folder, "saved_model")
        tf.saved_model.save(module, saved, signatures=module.serve)
        path = os.path.join(folder, "model.tflite")
        with open(path, "wb") as file:
            file.write(tf.lite.TFLiteConverter.from_saved_model(saved).convert())
        return path


def _spec(shape: tuple[Any, ...], dtype: Any, sharding: Any = None) -> Any:
    """An abstract array: what `jax.export` traces and Orbax restores into."""
    import jax

    struct: Any = jax.ShapeDtypeStruct  # its constructor is untyped
    return struct(shape, dtype, sharding=sharding)


DEPLOYMENT = JaxDeployment

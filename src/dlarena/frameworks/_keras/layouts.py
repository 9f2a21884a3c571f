"""Where each canonical weight lives inside a Keras model, and how it is oriented.

Every layer of the (functional or Sequential) model with a known layout is a canonical
layer named by its Keras name. Custom layers join by defining `canonical_variables()`,
returning suffix -> `Slot`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlarena.contract.layouts import (
    Conversion,
    canonical_output,
    flattened_rows,
    hwio_to_oihw,
    identity,
    oihw_to_hwio,
    swap_depthwise,
)


@dataclass(frozen=True)
class Slot:
    """One canonical weight: a Keras variable and its inverse orientation conversions."""

    variable: Any
    to_canonical: Conversion = identity
    from_canonical: Conversion = identity

    def read(self) -> np.ndarray:
        return np.ascontiguousarray(self.to_canonical(np.asarray(self.variable.numpy())))

    def convert(self, native: np.ndarray) -> np.ndarray:
        """A native-layout array of this variable's shape (e.g. a gradient) -> canonical."""
        return np.ascontiguousarray(self.to_canonical(native))

    def write(self, canonical: np.ndarray) -> None:
        self.variable.assign(self.from_canonical(canonical))


def _reshaper(native: tuple[int, ...], canonical: tuple[int, ...]) -> tuple[Conversion, Conversion]:
    return (lambda array: array.reshape(canonical)), (lambda array: array.reshape(native))


def _lstm(cell: Any, prefix: str) -> dict[str, Slot]:
    return {f"{prefix}kernel": Slot(cell.kernel),
            f"{prefix}recurrent_kernel": Slot(cell.recurrent_kernel),
            f"{prefix}bias": Slot(cell.bias)}


def _attention(layer: Any) -> dict[str, Slot]:
    """EinsumDense kernels (d, heads, head) / output (heads, head, d) <-> canonical (d, d)."""
    found: dict[str, Slot] = {}
    for part, dense in (("query", layer._query_dense), ("key", layer._key_dense),
                        ("value", layer._value_dense), ("output", layer._output_dense)):
        kernel = tuple(int(n) for n in dense.kernel.shape)
        flat = (kernel[0], kernel[1] * kernel[2]) if part != "output" else (
            kernel[0] * kernel[1], kernel[2])
        found[f"{part}_kernel"] = Slot(dense.kernel, *_reshaper(kernel, flat))
        bias = tuple(int(n) for n in dense.bias.shape)
        found[f"{part}_bias"] = Slot(dense.bias, *_reshaper(bias, (int(np.prod(bias)),)))
    return found


def slots(layer: Any, flattened: dict[str, tuple[int, int, int]]) -> dict[str, Slot]:
    """Canonical suffix -> slot for the layer types dlarena knows; {} for any other layer.

    `flattened`: dense layers fed by a flattened (C, H, W) feature map, by layer name.
    """
    import keras

    custom = getattr(layer, "canonical_variables", None)
    if callable(custom):
        return dict(custom())
    found: dict[str, Slot] = {}
    kinds = keras.layers
    if isinstance(layer, kinds.DepthwiseConv2D):
        found["kernel"] = Slot(layer.kernel, swap_depthwise, swap_depthwise)
    elif isinstance(layer, kinds.Conv2D):
        found["kernel"] = Slot(layer.kernel, hwio_to_oihw, oihw_to_hwio)
    elif isinstance(layer, kinds.Dense):
        if layer.name in flattened:
            found["kernel"] = Slot(layer.kernel, *flattened_rows(*flattened[layer.name]))
        else:
            found["kernel"] = Slot(layer.kernel)
    elif isinstance(layer, kinds.LSTM):
        found = _lstm(layer.cell, "")
    elif isinstance(layer, kinds.Bidirectional):
        found = {**_lstm(layer.forward_layer.cell, "forward_"),
                 **_lstm(layer.backward_layer.cell, "backward_")}
    elif isinstance(layer, kinds.Embedding):
        found["embeddings"] = Slot(layer.embeddings)
    elif isinstance(layer, kinds.BatchNormalization):
        found = {"gamma": Slot(layer.gamma), "beta": Slot(layer.beta),
                 "moving_mean": Slot(layer.moving_mean),
                 "moving_variance": Slot(layer.moving_variance)}
    elif isinstance(layer, kinds.LayerNormalization):
        found = {"gamma": Slot(layer.gamma), "beta": Slot(layer.beta)}
    elif isinstance(layer, kinds.MultiHeadAttention):
        found = _attention(layer)
    # DepthwiseConv2D is not a Conv2D subclass in Keras 3: named so its bias is not missed.
    if isinstance(layer, kinds.Dense | kinds.Conv2D | kinds.DepthwiseConv2D) and layer.use_bias:
        found["bias"] = Slot(layer.bias)
    return found


Flattened = dict[str, tuple[int, int, int]]


def layers(model: Any, flattened: Flattened) -> list[tuple[Any, dict[str, Slot]]]:
    """(layer, slots) of every weighted layer, in the model's (topological) order."""
    found = []
    for layer in model.layers:
        layer_slots = slots(layer, flattened)
        if layer_slots:
            found.append((layer, layer_slots))
    return found


def named_slots(model: Any, flattened: dict[str, tuple[int, int, int]]) -> dict[str, Slot]:
    return {f"{layer.name}.{suffix}": slot
            for layer, layer_slots in layers(model, flattened)
            for suffix, slot in layer_slots.items()}


def layer_outputs(model: Any, inputs: Any, *, training: bool,
                  flattened: dict[str, tuple[int, int, int]],
                  compile_step: Callable[[Callable[..., Any]], Callable[..., Any]],
                  ) -> dict[str, np.ndarray]:
    """Every weighted layer's output for `inputs`, feature maps as canonical NCHW.

    Built as a functional sub-model over the same layers, so it works for any graph of
    layers; a layer returning several tensors (LSTM with states) gives its first. The pass
    runs through `compile_step`, the mode's wrapper of the timed steps (tf.function, XLA).
    """
    import keras

    weighted = [layer for layer, _ in layers(model, flattened)]
    symbolic = [layer.output[0] if isinstance(layer.output, list | tuple) else layer.output
                for layer in weighted]
    probe = keras.Model(model.inputs, symbolic)
    values = compile_step(lambda batch: probe(batch, training=training))(inputs)
    if not isinstance(values, list | tuple):
        values = [values]
    outputs: dict[str, np.ndarray] = {}
    for layer, value in zip(weighted, values, strict=True):
        outputs[layer.name] = canonical_output(np.asarray(keras.ops.convert_to_numpy(value)))
    return outputs

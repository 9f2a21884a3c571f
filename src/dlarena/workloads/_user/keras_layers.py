"""The user's Keras model seen by dlarena: its weights by layer name, its layer outputs, its
config rewritten for float64 (and without dropout for the same-model check), its description.

Every backend runs the same Keras model, so the canonical layout is Keras' own: a weight is
named `<top-level layer>.<its path below that layer>` ("dense_1.kernel",
"block_1.attention_query_kernel"), in Keras' orientation. The layer before the last dot is
the model's top-level layer that owns it, which is how the check compares layer by layer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.workloads._user.spec import ModelError

FLOAT_NAMES = ("float16", "bfloat16", "float32", "float64")
_NOISY = re.compile(r"Dropout|Noise")


def _is_float(variable: Any) -> bool:
    return str(variable.dtype).removeprefix("torch.") in FLOAT_NAMES


def named_variables(model: Any) -> dict[str, Any]:
    """Every floating-point variable of the model, once, named by the top-level layer that
    owns it (random-generator state and counters are no weights)."""
    found: dict[str, Any] = {}
    seen: set[int] = set()
    for layer in model.layers:
        for variable in layer.weights:
            if id(variable) in seen or not _is_float(variable):
                continue
            seen.add(id(variable))
            path = str(variable.path)
            below = path[len(layer.name) + 1:] if path.startswith(f"{layer.name}/") else path
            name = f"{layer.name}.{re.sub(r'[/.]', '_', below)}"
            while name in found:  # two variables of one path: keep both
                name += "_"
            found[name] = variable
    return found


def weighted_layers(model: Any) -> list[Any]:
    """The top-level layers that own a floating-point weight, in the model's order."""
    owners = {name.rsplit(".", 1)[0] for name in named_variables(model)}
    return [layer for layer in model.layers if layer.name in owners]


def layer_outputs(model: Any, inputs: Any, *, training: bool,
                  compile_step: Callable[[Callable[..., Any]], Callable[..., Any]],
                  ) -> dict[str, np.ndarray]:
    """Each weighted top-level layer's output (its first tensor), by the layer's name, from
    a functional sub-model run as the mode runs its steps."""
    import keras

    chosen, symbolic = [], []
    for layer in weighted_layers(model):
        output = layer.output
        if isinstance(output, list | tuple):
            output = output[0]
        if isinstance(output, dict):  # several named outputs: none is "the" output
            continue
        chosen.append(layer)
        symbolic.append(output)
    probe = keras.Model(model.inputs, symbolic)
    values = compile_step(lambda batch: probe(batch, training=training))(inputs)
    if not isinstance(values, list | tuple):
        values = [values]
    return {layer.name: np.ascontiguousarray(np.asarray(keras.ops.convert_to_numpy(value)))
            for layer, value in zip(chosen, values, strict=True)}


def rewritten(config: Any, *, dtype: str, without_dropout: bool) -> Any:
    """A serialized model's config computing in `dtype` (every float policy and float input),
    and, if asked, with every dropout and noise rate at 0."""
    config = copy.deepcopy(config)
    _rewrite(config, dtype, without_dropout)
    return config


def _rewrite(node: Any, dtype: str, without_dropout: bool) -> None:
    if isinstance(node, list):
        for item in node:
            _rewrite(item, dtype, without_dropout)
        return
    if not isinstance(node, dict):
        return
    inner = node.get("config")
    if node.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and isinstance(inner, dict):
        inner["name"] = dtype
    if (without_dropout and isinstance(inner, dict)
            and _NOISY.search(str(node.get("class_name", "")))):
        for key in ("rate", "stddev"):
            if isinstance(inner.get(key), int | float):
                inner[key] = 0.0
    for key, value in node.items():
        if key == "dtype" and isinstance(value, str) and (value in FLOAT_NAMES
                                                          or value.startswith("mixed_")):
            node[key] = dtype
        elif (without_dropout and (key == "dropout" or key.endswith("_dropout"))
              and isinstance(value, int | float) and not isinstance(value, bool)):
            node[key] = 0.0
        else:
            _rewrite(value, dtype, without_dropout)


def noisy_layers(model: Any) -> list[str]:
    """Top-level layers whose training-mode output is random (dropout, noise, at any depth)."""
    import keras

    return [layer.name for layer in model.layers
            if _has_noise(keras.saving.serialize_keras_object(layer))]


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _has_noise(node: Any) -> bool:
    if isinstance(node, list):
        return any(_has_noise(item) for item in node)
    if not isinstance(node, dict):
        return False
    inner = node.get("config")
    if (isinstance(inner, dict) and _NOISY.search(str(node.get("class_name", "")))
            and any(_positive(inner.get(key)) for key in ("rate", "stddev"))):
        return True
    return any(((key == "dropout" or key.endswith("_dropout")) and _positive(value))
               or _has_noise(value) for key, value in node.items())


def forward_flops(model: Any) -> int:
    """One sample's forward FLOPs of the top-level Dense and convolution layers (a
    multiply-add = 2); layers of other kinds, nested ones included, are not counted."""
    import keras

    total = 0
    for layer in model.layers:
        try:
            spatial = int(np.prod([int(n) for n in layer.output.shape[1:-1]]))
        except (AttributeError, TypeError, ValueError):
            continue
        if isinstance(layer, keras.layers.Dense | keras.layers.Conv2D
                      | keras.layers.DepthwiseConv2D):
            total += 2 * spatial * int(np.prod(layer.kernel.shape))
    return total


def describe(model: Any, *, vocabulary: int | None) -> dict[str, Any]:
    """Inputs, output, loss, weights and FLOPs of a built functional or Sequential model."""
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError):
        raise ModelError("the Keras model has no inputs yet: build it on keras.Input (a "
                         "functional model, or a Sequential starting with keras.Input)") from None
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"the model takes {len(inputs)} input(s) and gives {len(outputs)} "
                         "output(s); dlarena runs models of one input and one output tensor")
    shape = [None if n is None else int(n) for n in inputs[0].shape]
    if any(n is None for n in shape[1:]):
        raise ModelError(f"the model's input shape {tuple(shape)} has a free dimension; "
                         "build it on keras.Input with every dimension but the batch fixed")
    dtype = str(inputs[0].dtype)
    variables = named_variables(model)
    if "int" in dtype:
        vocabulary = vocabulary or next(
            (int(v.shape[0]) for name, v in variables.items() if name.endswith("embeddings")),
            None)
        if vocabulary is None:
            raise ModelError(f"the model takes {dtype} inputs and has no embedding to read "
                             "their range from: give --vocabulary N")
    output = [int(n) for n in outputs[0].shape[1:] if n is not None]
    compiled = {}
    if getattr(model, "compiled", False):
        compiled = {"loss": str(getattr(model, "loss", None)),
                    "optimizer": type(model.optimizer).__name__}
    return {
        "family": "keras",
        "variables": [[name, [int(n) for n in v.shape], bool(v.trainable)]
                      for name, v in variables.items()],
        "input": {"shape": shape[1:], "dtype": dtype,
                  "vocabulary": vocabulary if "int" in dtype else None},
        "output": {"shape": output},
        "loss": "softmax_cross_entropy" if output and output[-1] > 1 else "sigmoid_cross_entropy",
        "forward_flops": forward_flops(model),
        "batch_size": shape[0],
        "compiled": compiled,
        "noisy_layers": noisy_layers(model),
        "layers": [layer.name for layer in weighted_layers(model)],
    }

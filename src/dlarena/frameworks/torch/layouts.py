"""Where each canonical weight lives inside a PyTorch model, and how it is oriented.

A model's weighted modules are found by walking it: the first module on a path that has a
known layout (Linear, Conv2d, LSTM, …, or any module with a `canonical_tensors()` method)
is a *layer*; its canonical prefix is its path with dots turned into underscores
(`stage1.0.conv1` -> `stage1_0_conv1`), so nested PyTorch modules and flat Keras layer names
meet in one name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlarena.contract.layouts import Conversion, identity, transpose


@dataclass(frozen=True)
class Slot:
    """One canonical weight: a tensor (or a block of its rows) and its orientation.

    `to_canonical` and `from_canonical` are inverse conversions; `rows` selects one weight
    of a packed tensor (nn.MultiheadAttention keeps query, key and value in one).
    """

    tensor: Any
    to_canonical: Conversion = identity
    from_canonical: Conversion = identity
    rows: slice | None = None

    def _part(self, tensor: Any) -> Any:
        return tensor if self.rows is None else tensor[self.rows]

    def read(self) -> np.ndarray:
        native = self._part(self.tensor).detach().cpu().numpy()
        return np.ascontiguousarray(self.to_canonical(native))

    def read_gradient(self) -> np.ndarray | None:
        grad = self.tensor.grad
        if grad is None:
            return None
        return np.ascontiguousarray(self.to_canonical(self._part(grad).detach().cpu().numpy()))

    def write(self, canonical: np.ndarray) -> None:
        import torch

        native = torch.from_numpy(np.ascontiguousarray(self.from_canonical(canonical)))
        with torch.no_grad():
            self._part(self.tensor).copy_(native)


def _lstm_slots(module: Any, prefix: str, suffix: str) -> dict[str, Slot]:
    """torch (4u, in) / (4u, u) -> canonical (in, 4u) / (u, 4u); gate order i, f, g, o in both.

    The canonical layout, like Keras, has one bias per direction: `bias_hh` must stay zero
    and frozen (see `single_bias_lstm`).
    """
    return {
        f"{prefix}kernel": Slot(getattr(module, f"weight_ih_l0{suffix}"), transpose, transpose),
        f"{prefix}recurrent_kernel": Slot(getattr(module, f"weight_hh_l0{suffix}"), transpose,
                                          transpose),
        f"{prefix}bias": Slot(getattr(module, f"bias_ih_l0{suffix}")),
    }


def single_bias_lstm(module: Any) -> Any:
    """Zero and freeze an nn.LSTM's second bias, so it has the canonical single bias."""
    from torch import nn

    for name, parameter in module.named_parameters():
        if name.startswith("bias_hh"):
            nn.init.zeros_(parameter)
            parameter.requires_grad = False
    return module


def slots(module: Any) -> dict[str, Slot]:
    """Canonical suffix -> slot for the layer types dlarena knows; {} for any other module."""
    from torch import nn

    custom = getattr(module, "canonical_tensors", None)
    if callable(custom):
        return dict(custom())
    found: dict[str, Slot] = {}
    if isinstance(module, nn.Linear):
        found["kernel"] = Slot(module.weight, transpose, transpose)  # (out, in) -> (in, out)
        if module.bias is not None:
            found["bias"] = Slot(module.bias)
    elif isinstance(module, nn.Conv2d):
        found["kernel"] = Slot(module.weight)  # OIHW is canonical (depthwise: (C, 1, kh, kw))
        if module.bias is not None:
            found["bias"] = Slot(module.bias)
    elif isinstance(module, nn.LSTM):
        if module.num_layers != 1:
            raise ValueError("one nn.LSTM per canonical layer: use num_layers=1")
        if module.bidirectional:
            found = {**_lstm_slots(module, "forward_", ""),
                     **_lstm_slots(module, "backward_", "_reverse")}
        else:
            found = _lstm_slots(module, "", "")
    elif isinstance(module, nn.Embedding):
        found["embeddings"] = Slot(module.weight)
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        found = {"gamma": Slot(module.weight), "beta": Slot(module.bias),
                 "moving_mean": Slot(module.running_mean),
                 "moving_variance": Slot(module.running_var)}
    elif isinstance(module, nn.LayerNorm):
        found = {"gamma": Slot(module.weight), "beta": Slot(module.bias)}
    elif isinstance(module, nn.MultiheadAttention):
        width = module.embed_dim
        for index, part in enumerate(("query", "key", "value")):
            rows = slice(index * width, (index + 1) * width)
            found[f"{part}_kernel"] = Slot(module.in_proj_weight, transpose, transpose, rows)
            found[f"{part}_bias"] = Slot(module.in_proj_bias, rows=rows)
        found["output_kernel"] = Slot(module.out_proj.weight, transpose, transpose)
        found["output_bias"] = Slot(module.out_proj.bias)
    return found


def layers(model: Any) -> Iterator[tuple[str, Any, dict[str, Slot]]]:
    """(canonical prefix, module, slots) of every weighted layer, in registration order."""

    def walk(module: Any, path: str) -> Iterator[tuple[str, Any, dict[str, Slot]]]:
        found = slots(module) if path else {}
        if found:
            yield path.replace(".", "_"), module, found
            return
        for name, child in module.named_children():
            yield from walk(child, f"{path}.{name}" if path else name)

    yield from walk(model, "")


def named_slots(model: Any) -> dict[str, Slot]:
    return {f"{prefix}.{suffix}": slot
            for prefix, _, found in layers(model) for suffix, slot in found.items()}


def layer_outputs(model: Any, run: Callable[[], Any]) -> dict[str, np.ndarray]:
    """Call `run` (a forward pass of `model`, compiled or not) and keep each weighted layer's
    output.

    Recurrent layers and attention return tuples: the first element is the output. A layer
    called more than once keeps its last output. The hooks keep tensors and convert them
    after the pass: under torch.compile a conversion to NumPy inside the pass would break
    the graph at every layer, and the pass checked would no longer be the one timed.
    """
    outputs: dict[str, Any] = {}

    def keep(prefix: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            outputs[prefix] = output[0] if isinstance(output, tuple) else output
        return hook

    handles = [module.register_forward_hook(keep(prefix)) for prefix, module, _ in layers(model)]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return {prefix: np.ascontiguousarray(value.detach().cpu().numpy())
            for prefix, value in outputs.items()}

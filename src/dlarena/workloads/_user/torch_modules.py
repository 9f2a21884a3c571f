"""The user's PyTorch module seen by dlarena: its weights by top-level child, its layer
outputs, the tensor its forward pass gives, its description.

A weight is named `<the path of the module that holds it, dots as underscores>.<its name>`
("blocks_0_attn_qkv.weight", "head.bias"): every module that holds a weight itself is a layer
whose output the same-model check compares. The orientation is PyTorch's own: only PyTorch
runs the module, in several modes and engines, so no other layout is needed. Parameters, and the
floating-point buffers a `state_dict` keeps (BatchNorm's running statistics), are weights;
non-persistent buffers (rotary frequencies, masks) stay as the module built them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.workloads._user.spec import ModelError

ROOT = "model"  # the layer name of weights the top-level module holds itself


def first_tensor(output: Any) -> Any:
    """The tensor a forward pass means: itself, a Hugging Face output's logits, or the first
    element of a tuple."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if callable(getattr(output, "to_tuple", None)):  # a Hugging Face ModelOutput
        output = output.to_tuple()
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise ModelError(f"the module's forward pass gives {type(output).__name__}, not a tensor")


def logits_module(inner: Any) -> Any:
    """`inner` behind a forward pass that returns one tensor (what every step and engine
    takes); its weights stay `inner`'s."""
    from torch import nn

    class Logits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, inputs: Any) -> Any:
            return first_tensor(self.inner(inputs))

    return Logits()


def layer_name(module_path: str) -> str:
    return module_path.replace(".", "_") or ROOT


def _canonical(path: str) -> str:
    module_path, _, leaf = path.rpartition(".")
    return f"{layer_name(module_path)}.{leaf}"


def named_tensors(module: Any) -> dict[str, tuple[Any, bool]]:
    """Canonical name -> (parameter or buffer, trainable), parameters first."""
    found: dict[str, tuple[Any, bool]] = {}
    for path, parameter in module.named_parameters():
        found[_canonical(path)] = (parameter, parameter.requires_grad)
    kept = set(module.state_dict(keep_vars=True))
    for path, buffer in module.named_buffers():
        if path in kept and buffer.is_floating_point():
            found[_canonical(path)] = (buffer, False)
    return found


def weighted_modules(module: Any) -> list[tuple[str, Any]]:
    """(layer name, module) of every module that holds a weight itself, in module order."""
    owners = {name.rsplit(".", 1)[0] for name in named_tensors(module)}
    return [(layer_name(path), child) for path, child in module.named_modules()
            if layer_name(path) in owners]


def layer_outputs(module: Any, run: Callable[[], Any]) -> dict[str, np.ndarray]:
    """Each weighted module's output (its first tensor) in one pass of `run`; the
    tensors are converted after the pass, so a compiled pass is not broken by the hooks."""
    outputs: dict[str, Any] = {}

    def keep(name: str) -> Callable[..., None]:
        def hook(_: Any, inputs: Any, output: Any) -> None:
            with contextlib.suppress(ModelError):  # a dict or None: no output to compare
                outputs[name] = first_tensor(output)
        return hook

    handles = [child.register_forward_hook(keep(name))
               for name, child in weighted_modules(module)]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return {name: _numpy(value) for name, value in outputs.items()}


def _numpy(tensor: Any) -> np.ndarray:
    import torch

    tensor = tensor.detach().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):  # NumPy holds neither as such
        tensor = tensor.float()
    return np.ascontiguousarray(tensor.numpy())


def without_dropout(module: Any) -> list[str]:
    """Set every dropout module's probability to 0; the names of those that had one."""
    from torch import nn

    changed = []
    for name, child in module.named_modules():
        if isinstance(child, nn.modules.dropout._DropoutNd) and child.p > 0:
            child.p = 0.0
            changed.append(name)
    return changed


def unpack(built: Any) -> tuple[Any, Any]:
    """(module, example input tensor) from what a build function returned."""
    import torch

    if not (isinstance(built, tuple) and len(built) == 2):
        raise ModelError("a PyTorch build function returns (module, example_inputs)")
    module, example = built
    if isinstance(example, tuple | list) and len(example) == 1:
        example = example[0]
    if not isinstance(example, torch.Tensor):
        raise ModelError(f"the example inputs are {type(example).__name__}; dlarena runs "
                         "modules that take one tensor")
    return module, example


def describe(built: Any) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    inner, example = unpack(built)
    module = logits_module(inner).eval()
    noisy = sorted({layer_name(name) for name, child in inner.named_modules()
                    if isinstance(child, torch.nn.modules.dropout._DropoutNd) and child.p > 0})
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        output = module(example)
    batch = int(example.shape[0])
    dtype = str(example.dtype).removeprefix("torch.")
    vocabulary = None
    if not example.is_floating_point():
        vocabulary = next((int(m.num_embeddings) for m in inner.modules()
                           if isinstance(m, torch.nn.Embedding)), None)
        if vocabulary is None:
            raise ModelError(f"the module takes {dtype} inputs and has no embedding to read "
                             "their range from: give --vocabulary N")
    shape = [int(n) for n in output.shape[1:]]
    return {
        "family": "torch",
        "variables": [[name, [int(n) for n in tensor.shape], trainable]
                      for name, (tensor, trainable) in named_tensors(inner).items()],
        "input": {"shape": [int(n) for n in example.shape[1:]], "dtype": dtype,
                  "vocabulary": vocabulary},
        "output": {"shape": shape},
        "loss": "softmax_cross_entropy" if shape and shape[-1] > 1 else "sigmoid_cross_entropy",
        "forward_flops": int(counter.get_total_flops()) // max(1, batch),
        "batch_size": batch,
        "compiled": {},
        "noisy_layers": noisy,
        "layers": [name for name, _ in weighted_modules(inner)],
    }

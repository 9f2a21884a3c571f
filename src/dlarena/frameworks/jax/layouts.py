"""Where each canonical weight lives in a Flax Linen variable tree, and how it is oriented.

Linen keeps weights in nested dicts ({"params": {"conv1": {"kernel": ...}}, "batch_stats":
...}). A canonical name is the path of the module that owns a weight with "_" between the
module names (`layer1_0_conv1`, as PyTorch's walker names nested modules), then the weight's
canonical suffix: Flax's `embedding`, `scale`, BatchNorm's `bias`, `mean` and `var` become
`embeddings`, `gamma`, `beta`, `moving_mean` and `moving_variance`; a 4-D `kernel` is a
convolution kept HWIO (depthwise: (kh, kw, 1, C)), canonical OIHW; other names (dense
kernels (in, out), the LSTM's `recurrent_kernel`, attention's `query_kernel`) are canonical
already, so custom modules join by naming their `self.param`s canonically.
"""

from __future__ import annotations

from collections.abc import Mapping
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
)

Path = tuple[str, ...]

_RENAMED = {"embedding": "embeddings", "scale": "gamma", "mean": "moving_mean",
            "var": "moving_variance"}


@dataclass(frozen=True)
class Slot:
    """One canonical weight: its collection and path in the variable tree, and orientation."""

    collection: str
    path: Path
    to_canonical: Conversion = identity
    from_canonical: Conversion = identity


def _leaves(tree: Mapping[str, Any], path: Path = ()) -> list[tuple[Path, Mapping[str, Any]]]:
    """(path of a leaf, the dict holding it) for every array in a nested dict."""
    found: list[tuple[Path, Mapping[str, Any]]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping):
            found.extend(_leaves(value, (*path, key)))
        else:
            found.append(((*path, key), tree))
    return found


def named_slots(variables: Mapping[str, Any],
                flattened: Mapping[str, tuple[int, int, int]]) -> dict[str, Slot]:
    """Canonical name -> slot for every weight in `params` and `batch_stats`.

    `flattened` names the dense layers fed by a flattened (C, H, W) map, whose kernel rows
    are reordered between NHWC's flatten and the canonical one.
    """
    slots: dict[str, Slot] = {}
    for collection in ("params", "batch_stats"):
        for path, holder in _leaves(variables.get(collection, {})):
            *modules, leaf = path
            prefix = "_".join(modules)
            shape = np.shape(holder[leaf])
            to: Conversion
            back: Conversion
            to, back = identity, identity
            suffix = _RENAMED.get(leaf, leaf)
            if leaf == "bias" and "scale" in holder:  # a normalisation's shift
                suffix = "beta"
            elif leaf == "kernel" and len(shape) == 4:
                to, back = hwio_to_oihw, oihw_to_hwio
            elif leaf == "kernel" and prefix in flattened:
                to, back = flattened_rows(*flattened[prefix])
            slots[f"{prefix}.{suffix}"] = Slot(collection, tuple(path), to, back)
    return slots


def layer_prefixes(slots: Mapping[str, Slot]) -> set[str]:
    return {name.rsplit(".", 1)[0] for name in slots}


def read(tree: Mapping[str, Any], path: Path) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def replaced(tree: Mapping[str, Any], values: Mapping[Path, Any]) -> dict[str, Any]:
    """A copy of a nested dict with the leaves at `values`' paths replaced."""
    copy: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            inner = {path[1:]: v for path, v in values.items() if path[0] == key}
            copy[key] = replaced(value, inner)
        else:
            copy[key] = values.get((key,), value)
    return copy


def layer_outputs(intermediates: Mapping[str, Any], prefixes: set[str]) -> dict[str, np.ndarray]:
    """Each weighted layer's output from Linen's captured intermediates, maps as NCHW.

    Linen keeps a tuple of outputs per `__call__`; a layer called more than once keeps its
    last, a layer returning a tuple (an LSTM with its state) gives its first element.
    """
    outputs: dict[str, np.ndarray] = {}
    for path, holder in _leaves(intermediates):
        *modules, method = path
        prefix = "_".join(modules)
        if method != "__call__" or prefix not in prefixes:
            continue
        value = holder[method][-1]
        if isinstance(value, tuple):
            value = value[0]
        outputs[prefix] = canonical_output(np.asarray(value))
    return outputs

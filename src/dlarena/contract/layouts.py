"""Conversions between a framework's weight layouts and the canonical one, framework-free
(NumPy only): what the layout walkers in frameworks/<name>/layouts.py share.

Canonical: dense kernels (in, out), convolution kernels OIHW (depthwise (C, 1, kh, kw)),
feature maps NCHW, a flattened map's rows in (C, H, W) order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Conversion = Callable[[np.ndarray], np.ndarray]


def identity(array: np.ndarray) -> np.ndarray:
    return array


def transpose(array: np.ndarray) -> np.ndarray:
    return array.T


def hwio_to_oihw(array: np.ndarray) -> np.ndarray:
    return array.transpose(3, 2, 0, 1)


def oihw_to_hwio(array: np.ndarray) -> np.ndarray:
    return array.transpose(2, 3, 1, 0)


def swap_depthwise(array: np.ndarray) -> np.ndarray:
    """(kh, kw, C, 1) <-> canonical (C, 1, kh, kw); the permutation is its own inverse."""
    return array.transpose(2, 3, 0, 1)


def flattened_rows(channels: int, height: int, width: int) -> tuple[Conversion, Conversion]:
    """A dense kernel fed by a flattened NHWC map: rows ordered (H, W, C), canonical (C, H, W)."""

    def to_canonical(array: np.ndarray) -> np.ndarray:
        rows = array.reshape(height, width, channels, -1).transpose(2, 0, 1, 3)
        return rows.reshape(channels * height * width, -1)

    def from_canonical(array: np.ndarray) -> np.ndarray:
        rows = array.reshape(channels, height, width, -1).transpose(1, 2, 0, 3)
        return rows.reshape(channels * height * width, -1)

    return to_canonical, from_canonical


def canonical_output(array: np.ndarray) -> np.ndarray:
    """A layer's output as the check compares it: feature maps NHWC -> canonical NCHW."""
    if array.ndim == 4:
        array = array.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(array)

"""Analytic FLOP counts of the layers workloads are made of (a multiply-add = 2 FLOPs).

Only matrix products and convolutions count, as in torch.utils.flop_counter, so a test can
cross-check every workload's analytic count against PyTorch's counter.
"""

from __future__ import annotations


def dense(inputs: int, outputs: int, rows: int = 1) -> int:
    """`rows` vectors (e.g. one per token) through an inputs x outputs matrix."""
    return 2 * rows * inputs * outputs


def conv2d(c_in: int, c_out: int, kernel: int, out_height: int, out_width: int,
           groups: int = 1) -> int:
    return 2 * (c_in // groups) * c_out * kernel * kernel * out_height * out_width


def lstm(inputs: int, units: int, steps: int) -> int:
    """The four gates' input and recurrent products at every step."""
    return steps * (dense(inputs, 4 * units) + dense(units, 4 * units))


def attention_scores(queries: int, keys: int, width: int) -> int:
    """Q K^T and the weighted sum of values: two (queries x width x keys) products."""
    return 2 * 2 * queries * keys * width

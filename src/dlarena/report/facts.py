"""What a report reads of the workload and framework definitions (units, FLOPs, modes).

Read from today's code through the registry; a workload or framework that no longer exists
(an old stored run) gets neutral answers instead of an error.
"""

from __future__ import annotations

from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.contract import FrameworkInfo, Workload
from dlarena.measure import derived
from dlarena.measure.metrics import METRICS

THROUGHPUTS = ("train_throughput", "infer_throughput")


def _workload(name: str) -> Workload | None:
    """The workload's definition; None for one that no longer exists (an old stored run)."""
    return registry.workloads().get(name)


def unit(metric: str, workload: str | None = None) -> str:
    """The metric's unit; a throughput counts the workload's own (images/s, tokens/s, …)."""
    found = _workload(workload) if workload is not None else None
    if metric in THROUGHPUTS and found is not None:
        return f"{found.unit}/s"
    return METRICS[metric].unit if metric in METRICS else ""


def quality(workload: str) -> str:
    """What a convergence cell's val_accuracy measures for this workload (hit rate@10, …)."""
    found = _workload(workload)
    return found.quality if found is not None else "accuracy"


def items_per_step(spec: CellSpec) -> int:
    """Units of throughput in one step of the cell (a batch of images, or of its tokens)."""
    found = _workload(spec.workload)
    return spec.batch_size * (found.items_per_sample(spec.size) if found is not None else 1)


def achieved_gflops(spec: CellSpec, metric: str | None, median: float | None) -> float | None:
    """FLOP rate of a train or infer cell at its median throughput (analytic FLOPs)."""
    workload = _workload(spec.workload)
    if workload is None or metric not in THROUGHPUTS or median is None:
        return None
    flops = (workload.train_flops(spec.size) if metric == "train_throughput"
             else workload.forward_flops(spec.size))
    return derived.gflops(median, workload.items_per_sample(spec.size), flops)


def _framework(name: str) -> FrameworkInfo | None:
    return registry.frameworks().get(name)


def default_mode(framework: str) -> str | None:
    info = _framework(framework)
    return info.default_mode if info is not None else None


def eager_mode(framework: str) -> str | None:
    """The framework's op-by-op mode, the baseline a compiled mode must repay."""
    info = _framework(framework)
    return info.eager_mode if info is not None else None


def colour(framework: str) -> str | None:
    info = _framework(framework)
    return info.colour if info is not None else None

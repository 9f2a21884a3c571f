"""Names, units and direction of every metric a cell can record (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    # True: more is better (throughput); False: less is better (time, memory); None: neither.
    higher_is_better: bool | None
    description: str


_ALL = (
    Metric("train_throughput", "samples/s", True, "full optimizer steps, steady state"),
    Metric("infer_throughput", "samples/s", True, "forward passes without gradients"),
    Metric("first_step_seconds", "s", False, "first step: tracing, compilation, allocation"),
    Metric("import_seconds", "s", False, "framework import and configuration"),
    Metric("build_seconds", "s", False, "model and optimizer construction, weight loading"),
    Metric("peak_rss_bytes", "bytes", False, "worker's peak resident memory (OS accounting)"),
    Metric("peak_device_memory_bytes", "bytes", False, "framework allocator's peak on the device"),
    Metric("trainable_parameters", "count", None, "trainable parameters, counted by the framework"),
)

METRICS: dict[str, Metric] = {metric.name: metric for metric in _ALL}

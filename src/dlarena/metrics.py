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
    # How a verdict says the better side wins, with {factor}: "is {factor}x faster than".
    comparison: str = ""


_ALL = (
    Metric("train_throughput", "samples/s", True, "full optimizer steps, steady state",
           "is {factor}x faster than"),
    Metric("infer_throughput", "samples/s", True, "forward passes without gradients",
           "is {factor}x faster than"),
    Metric("latency_seconds", "s", False, "one batch-1 request, synchronised",
           "answers {factor}x faster (median latency) than"),
    Metric("time_to_first_result_seconds", "s", False,
           "framework import + model build + first training step",
           "gets a first result {factor}x sooner than"),
    Metric("first_step_seconds", "s", False, "first step: tracing, compilation, allocation",
           "takes a {factor}x shorter first step than"),
    Metric("import_seconds", "s", False, "framework import and configuration"),
    Metric("build_seconds", "s", False, "model and optimizer construction, weight loading"),
    Metric("peak_rss_bytes", "bytes", False, "worker's peak resident memory (OS accounting)",
           "uses {factor}x less memory than"),
    Metric("peak_device_memory_bytes", "bytes", False, "framework allocator's peak on the device"),
    Metric("trainable_parameters", "count", None, "trainable parameters, counted by the framework"),
    Metric("compiled_graphs", "count", None, "graphs torch.compile produced"),
    Metric("graph_breaks", "count", None, "torch.compile graph breaks"),
    Metric("traces", "count", None, "tf.function traces (more than one per step = retracing)"),
)

METRICS: dict[str, Metric] = {metric.name: metric for metric in _ALL}

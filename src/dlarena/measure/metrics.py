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
    # Required when higher_is_better is not None (a test enforces it).
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
    Metric("import_seconds", "s", False, "framework import and configuration",
           "imports {factor}x faster than"),
    Metric("build_seconds", "s", False, "model and optimizer construction, weight loading",
           "builds {factor}x faster than"),
    Metric("final_val_accuracy", "fraction", True,
           "validation accuracy (ncf: hit rate@10) after the last epoch",
           "reaches {factor}x the accuracy of"),
    Metric("training_seconds", "s", False, "all epochs' training loops (evaluation excluded)",
           "trains {factor}x faster than"),
    Metric("time_to_target_seconds", "s", False, "training time until the target accuracy",
           "reaches the target {factor}x sooner than"),
    Metric("epoch_seconds", "s", False, "one epoch's training loop",
           "runs an epoch {factor}x faster than"),
    Metric("train_loss", "nats", None, "mean training loss of an epoch"),
    Metric("train_accuracy", "fraction", None, "accuracy on 10,000 training samples"),
    Metric("val_loss", "nats", None, "validation loss after an epoch"),
    Metric("val_accuracy", "fraction", None,
           "validation accuracy (ncf: hit rate@10) after an epoch"),
    Metric("peak_rss_build_bytes", "bytes", False, "peak RSS up to a built model (import "
           "included)", "uses {factor}x less memory than"),
    Metric("peak_rss_load_bytes", "bytes", False, "peak RSS while loading the dataset",
           "uses {factor}x less memory than"),
    Metric("peak_rss_train_bytes", "bytes", False, "peak RSS while training",
           "uses {factor}x less memory than"),
    Metric("peak_rss_phases_separated", "bool", None, "1 when the kernel let peaks be reset"),
    Metric("peak_rss_bytes", "bytes", False, "worker's peak resident memory (OS accounting)",
           "uses {factor}x less memory than"),
    Metric("peak_device_memory_bytes", "bytes", False, "framework allocator's peak on the device",
           "uses {factor}x less device memory than"),
    Metric("ranks", "count", None, "processes training one model (train-ddp)"),
    Metric("data_parallel_loss_difference", "fraction", None,
           "train-ddp: largest relative difference, over 5 float64 steps, between the ranks' "
           "mean loss and one process's on the global batch"),
    Metric("data_parallel_same_model", "fraction", None,
           "train-ddp: 1 when that difference is within 1e-9, else 0"),
    Metric("trainable_parameters", "count", None, "trainable parameters, counted by the framework"),
    Metric("compiled_graphs", "count", None, "graphs the compiler produced"),
    Metric("graph_breaks", "count", None, "graph breaks (the compiler fell back to Python)"),
    Metric("traces", "count", None, "function traces (more than one per signature = retracing)"),
)

METRICS: dict[str, Metric] = {metric.name: metric for metric in _ALL}

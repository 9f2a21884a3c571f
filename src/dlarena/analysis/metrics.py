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
    Metric("data_parallel_weight_difference", "fraction", None,
           "train-ddp: largest relative difference of any rank's weights, after 2 float64 SGD "
           "steps, from the nearer of the two data-parallel steps (the mean of the shards' "
           "gradients, or the global batch's gradient)"),
    Metric("data_parallel_global_batch_difference", "fraction", None,
           "train-ddp: the same from the global batch's steps alone (0 without BatchNorm or "
           "with global batch statistics; > 0 with per-rank statistics)"),
    Metric("data_parallel_same_model", "fraction", None,
           "train-ddp: 1 when that difference is within 1e-9, else 0 (no verdict then)"),
    Metric("trainable_parameters", "count", None, "trainable parameters, counted by the framework"),
    Metric("compiled_graphs", "count", None, "graphs the compiler produced"),
    Metric("graph_breaks", "count", None, "graph breaks (the compiler fell back to Python)"),
    Metric("traces", "count", None, "function traces (more than one per signature = retracing)"),
    # Ease of development (the devex scenario): counts, no timing.
    Metric("code_lines", "lines", None, "lines holding code in the implementation file"),
    Metric("code_logical_lines", "statements", None, "statements in the implementation file"),
    Metric("code_tokens", "tokens", None, "code tokens in the implementation file"),
    Metric("code_api_calls", "count", None, "calls of the framework's API in the file"),
    Metric("code_api_names", "count", None, "distinct framework API names the file uses"),
    Metric("code_helper_classes", "count", None, "classes beside Implementation (custom "
           "layers, cells)"),
    Metric("code_padding_calls", "count", None, "explicit padding layers or calls"),
    Metric("code_layout_calls", "count", None, "transposes, reshapes, flattens spelled out"),
    Metric("probe_stops", "count", None, "times a breakpoint in the forward pass stopped in "
           "3 training steps"),
    Metric("probe_concrete_stops", "count", None, "of those, stops that saw concrete numbers"),
    Metric("mistakes_raised", "count", None, "planted mistakes that raised an error"),
    Metric("mistakes_at_mistake_line", "count", None, "planted mistakes whose traceback's "
           "innermost user frame is the mistake's line"),
    Metric("compile_seconds", "s", None,
           "tracing, lowering and compiling, summed over the cell's compilations"),
    Metric("load_throughput", "samples/s", True,
           "input pipeline alone: files read, decoded, augmented and batched",
           "loads {factor}x faster than"),
    Metric("train_from_files_throughput", "samples/s", True,
           "full optimizer steps fed by the input pipeline from files",
           "trains from files {factor}x faster than"),
    Metric("train_in_memory_throughput", "samples/s", True,
           "runs before December 2026: the same steps fed from memory, in alternating windows "
           "of the train-from-files process (now the train scenario's own cell)",
           "is {factor}x faster than"),
    Metric("input_bound_ratio", "ratio", None,
           "runs before December 2026: median step rate from files over the median from memory "
           "in one process (input-bound below 0.9)"),
    Metric("input_bound", "bool", None,
           "runs before December 2026: 1 when the input pipeline capped the step rate"),
    Metric("pipeline_open_seconds", "s", False,
           "building the input pipeline (and its record shards' check)",
           "opens its pipeline {factor}x faster than"),
    Metric("peak_rss_loading_bytes", "bytes", False,
           "peak RSS of the worker and its loader processes while loading",
           "uses {factor}x less memory while loading than"),
    Metric("cpu_seconds_per_image", "s", False,
           "CPU time of the worker and its loader processes per image loaded",
           "spends {factor}x less CPU per image than"),
)

_DEPLOYMENT = (
    Metric("load_seconds", "s", False, "a fresh process: start, import, (weights: build the "
           "model,) read the saved file, first prediction", "loads {factor}x faster than"),
    Metric("save_seconds", "s", False, "writing the saved model", "saves {factor}x faster than"),
    Metric("file_bytes", "bytes", False, "size of the saved model on disk",
           "saves {factor}x smaller files than"),
    Metric("max_abs_difference", "", None, "largest |difference| between the saved/exported "
           "model's outputs and the original's"),
    Metric("bit_exact_promised", "bool", None, "1 when the format promises equal bits"),
    Metric("load_import_seconds", "s", None, "fresh process: framework import"),
    Metric("load_build_seconds", "s", None, "fresh process: building the model's code"),
    Metric("load_read_seconds", "s", None, "fresh process: reading the saved model"),
    Metric("load_first_prediction_seconds", "s", None, "fresh process: the first prediction"),
    Metric("load_peak_rss_bytes", "bytes", None, "fresh process: peak resident memory"),
    Metric("export_seconds", "s", False, "exporting to the portable format",
           "exports {factor}x faster than"),
    Metric("export_bytes", "bytes", False, "size of the exported model",
           "exports {factor}x smaller files than"),
    Metric("portable_infer_throughput", "samples/s", True,
           "the exported model in its portable runtime, forward passes",
           "exports a model that runs {factor}x faster than"),
    Metric("native_infer_throughput", "samples/s", None,
           "the framework's own inference beside the export, same process"),
    Metric("portable_speedup", "x", None, "portable runtime throughput / the framework's"),
    Metric("portable_latency_seconds", "s", None, "batch-1 latency in the portable runtime"),
    Metric("native_latency_seconds", "s", None, "batch-1 latency in the framework"),
    Metric("serve_latency_seconds", "s", False, "HTTP request latency, closed loop, one client",
           "serves {factor}x faster (median latency) than"),
    Metric("server_start_seconds", "s", False, "server process start to first answered request",
           "starts serving {factor}x sooner than"),
    Metric("server_peak_rss_bytes", "bytes", False, "the server process's peak resident memory",
           "serves in {factor}x less memory than"),
    Metric("poisson_max_rate_within_bound", "requests/s", None,
           "highest Poisson arrival rate whose p99 stayed within the bound, no errors"),
    Metric("poisson_p99_bound_seconds", "s", None, "the open loop's p99 bound"),
    Metric("poisson_offered_rate", "requests/s", None, "open loop: arrival rate of a step"),
    Metric("poisson_achieved_rate", "requests/s", None, "open loop: answers per second"),
    Metric("poisson_p99_seconds", "s", None, "open loop: p99 latency of a step"),
    Metric("poisson_errors", "count", None, "open loop: failed requests of a step"),
    Metric("poisson_p50_seconds", "s", None, "open loop: median latency of a step"),
    Metric("poisson_requests", "count", None, "open loop: answered requests of a step (the "
           "p99 rests on them)"),
    Metric("serve_level_bound_seconds", "s", None, "a load level's time bound, when 1000 "
           "requests take longer"),
    Metric("answered", "count", None, "requests the server answered"),
    # TorchServe's own per-request figures (its metrics logs), one client at a time: where a
    # request's time goes between the client, the Java front end and the Python backend.
    Metric("torchserve_client_seconds", "s", None, "TorchServe, one client: the request as "
           "the client saw it (the requests of the breakdown below)"),
    Metric("torchserve_frontend_seconds", "s", None, "TorchServe, one client: the front "
           "end's inference latency (request received to response sent)"),
    Metric("torchserve_queue_seconds", "s", None, "TorchServe, one client: time queued in "
           "the front end for the backend worker"),
    Metric("torchserve_handler_seconds", "s", None, "TorchServe, one client: the handler's "
           "time in the Python backend (PredictionTime: the model's answer)"),
    *(metric for c in (1, 4, 16) for metric in (
        Metric(f"serve_requests_per_second_c{c}", "requests/s", None,
               f"closed loop, {c} clients: answers per second"),
        *(Metric(f"serve_p{q}_seconds_c{c}", "s", None, f"closed loop, {c} clients: p{q}")
          for q in (50, 90, 99)),
        Metric(f"serve_errors_c{c}", "count", None, f"closed loop, {c} clients: errors"),
        Metric(f"serve_requests_c{c}", "count", None,
               f"closed loop, {c} clients: answered requests (the p99 rests on them)"))),
)

METRICS: dict[str, Metric] = {metric.name: metric for metric in (*_ALL, *_DEPLOYMENT)}

"""What a cell measures, run inside the worker (stdlib and NumPy only).

A scenario gets a built implementation and returns its figures; adding one is a new
entry in SCENARIOS (its headline metric must be in `metrics.METRICS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlarena.cell import CellSpec
from dlarena.contract import Implementation, Runtime, Workload
from dlarena.contract.pipeline import JPEG, RECORDS
from dlarena.measure import dataload
from dlarena.measure.scenario_parts import ScenarioResult, cycling, device_batches
from dlarena.measure.timing import Progress, measure

# A latency measurement keeps at least this many requests, however short the budget.
MIN_REQUESTS = 50


Run = Callable[[Implementation, Runtime, Workload, CellSpec, Progress], ScenarioResult]
# Runs after the framework is set up and before the cell's model is built.
BeforeBuild = Callable[[Runtime, CellSpec, Progress], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    headline: str | None  # the metric verdicts compare; None: frameworks are not ranked
    run: Run
    # Batch size the scenario means, whatever the workload's default (latency: 1 request).
    batch_size: int | None = None
    # Samples are timed windows of steady state (their spread says something about noise).
    windowed: bool = True
    # Cell options the plan sweeps (each cell is made once per value), unless given.
    sweep: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    # Fed by the framework's input pipeline: only frameworks that have one are planned.
    needs_pipeline: bool = False
    # What must happen before the first model exists (train-ddp joins its process group
    # there: TensorFlow's collectives must be configured before the process's first op).
    before_build: BeforeBuild | None = None

    @property
    def compared(self) -> bool:
        """Verdicts compare frameworks on it, so a run first proves they compute the same."""
        return self.headline is not None


def swept_options(spec: CellSpec) -> str:
    """The cell's values of its scenario's swept options ("workers=2 format=jpeg"),
    empty for scenarios without a sweep: cells differing here are not the same measurement."""
    scenario = SCENARIOS.get(spec.scenario)
    if scenario is None:
        return ""
    # The option's last word is its name here: "loader_workers" -> "workers".
    return " ".join(f"{name.rsplit('_', 1)[-1]}={spec.options[name]}" for name in scenario.sweep
                    if name in spec.options)


def _throughput(training: bool) -> Run:
    def run(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
            progress: Progress) -> ScenarioResult:
        impl.prepare(training=training)
        step = impl.train_step if training else impl.infer_step
        timing = measure(cycling(step, device_batches(impl, workload, cell)), runtime.sync,
                         cell.measure, progress=progress)
        return ScenarioResult(timing.first_step_seconds, timing,
                              extra_metrics=impl.compilation_stats())
    return run


def run_latency(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """Requests one at a time, each synchronised: the latency a caller waits for."""
    impl.prepare(training=False)
    request = cycling(impl.infer_step, device_batches(impl, workload, cell))
    clock = time.perf_counter

    def one() -> float:
        start = clock()
        runtime.sync(request())
        return clock() - start

    first = one()
    settings = cell.measure
    progress("warmup", 0, 1)
    warmup_end = clock() + settings.max_warmup_windows * settings.min_window_seconds
    while clock() < warmup_end:
        one()
    budget = settings.windows * settings.min_window_seconds
    progress("measure", 0, 1)
    latencies: list[float] = []
    end = clock() + budget
    while clock() < end or len(latencies) < MIN_REQUESTS:
        latencies.append(one())
    progress("measure", 1, 1)
    return ScenarioResult(first, samples={"latency_seconds": latencies},
                          extra_metrics=impl.compilation_stats())


def run_startup(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """One training step on a fresh model: with import and build, the time to a first result."""
    impl.prepare(training=True)
    batch = device_batches(impl, workload, cell)[0]
    start = time.perf_counter()
    runtime.sync(impl.train_step(batch))
    return ScenarioResult(time.perf_counter() - start, extra_metrics=impl.compilation_stats())


# Evaluation runs in batches of this size, the last one padded (one shape: one trace).
EVAL_BATCH = 500


def _predictor(impl: Implementation, runtime: Runtime,
               label_like: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """inputs -> logits as float64 NumPy, batch by batch in inference mode."""
    def predict(inputs: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(inputs), EVAL_BATCH):
            chunk = inputs[start:start + EVAL_BATCH]
            padded = np.concatenate([chunk, np.repeat(chunk[-1:], EVAL_BATCH - len(chunk), 0)])
            labels = np.zeros((EVAL_BATCH, *label_like.shape[1:]), label_like.dtype)
            logits = runtime.to_numpy(impl.infer_step(impl.to_device(padded, labels)))
            outputs.append(np.asarray(logits, dtype=np.float64)[:len(chunk)])
        return np.concatenate(outputs)
    return predict


def run_convergence(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """Train for N epochs on a real dataset; curves per epoch, memory per phase.

    Initial weights and the data order come from the cell's seed, so every framework sees
    the same batches in the same order. Epoch time covers the training loop only (host to
    device copies included, evaluation excluded); the partial last batch is dropped so graph
    modes trace one shape.
    """
    from dlarena.data.catalogue import load
    from dlarena.measure.memory import peak_rss_bytes, reset_peak_rss

    name = str(cell.options["dataset"])
    epochs = int(cell.options.get("epochs", 20))
    target = float(cell.options.get("target_accuracy", 1.0))
    peak_build = peak_rss_bytes()
    resets = reset_peak_rss()
    progress("load data", 0, 1)
    task = workload.convergence_task(load(name), cell.size)
    peak_load = peak_rss_bytes()
    reset_peak_rss()

    rng = np.random.default_rng(cell.seed)
    batch = cell.batch_size
    curves: dict[str, list[float]] = {name: [] for name in (
        "epoch_seconds", "train_loss", "train_accuracy", "val_loss", "val_accuracy")}
    training_seconds, time_to_target, first_step = 0.0, None, 0.0
    for epoch in range(epochs):
        progress("epoch", epoch, epochs)
        impl.prepare(training=True)
        inputs, labels = task.epoch(rng)
        losses = []
        start = time.perf_counter()
        for step in range(len(labels) // batch):
            chosen = slice(step * batch, (step + 1) * batch)
            losses.append(runtime.scalar(impl.train_step(impl.to_device(inputs[chosen],
                                                                        labels[chosen]))))
            if epoch == 0 and step == 0:
                first_step = time.perf_counter() - start
        seconds = time.perf_counter() - start
        training_seconds += seconds
        impl.prepare(training=False)
        scores = task.evaluate(_predictor(impl, runtime, labels), (inputs, labels))
        curves["epoch_seconds"].append(seconds)
        curves["train_loss"].append(float(np.mean(losses)))
        for key in ("train_accuracy", "val_loss", "val_accuracy"):
            curves[key].append(scores[key])
        if time_to_target is None and scores["val_accuracy"] >= target:
            time_to_target = training_seconds
    progress("epoch", epochs, epochs)
    metrics = {
        "final_val_accuracy": curves["val_accuracy"][-1],
        "training_seconds": training_seconds,
        "peak_rss_build_bytes": float(peak_build),
        "peak_rss_load_bytes": float(peak_load),
        "peak_rss_train_bytes": float(peak_rss_bytes()),
        "peak_rss_phases_separated": float(resets),
    }
    if time_to_target is not None:
        metrics["time_to_target_seconds"] = time_to_target
    return ScenarioResult(first_step, samples=curves, extra_metrics=metrics)


def run_devex(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """Code size, debugger reach and planted mistakes (measure.devex): counts, not timings."""
    from dlarena.measure.devex.scenario import run_devex as measure_devex

    metrics, details = measure_devex(impl, runtime, workload, cell, progress)
    return ScenarioResult(None, extra_metrics=metrics, details=details)


def _deployed(figures_of: Callable[..., Any]) -> Run:
    """A deployment scenario (measure/deployment.py) as a Run."""
    def run(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
            progress: Progress) -> ScenarioResult:
        figures = figures_of(impl, runtime, workload, cell, progress)
        return ScenarioResult(figures.first_step_seconds, figures.timing,
                              samples=figures.samples, extra_metrics=figures.metrics,
                              manifest=figures.manifest)
    return run


def _deployment_scenarios() -> tuple[Scenario, ...]:
    from dlarena.measure import deployment

    saves = {"weights": "weights only; loading needs the model's code",
             "model": "architecture and weights in one file",
             "program": "a traced program that runs without the model's code"}
    return (
        *(Scenario(f"save-{kind}", f"save the {what}, load it in a fresh process up to the "
                   "first prediction; outputs must equal the original's",
                   "load_seconds", _deployed(deployment.save_scenario(kind)), windowed=False)
          for kind, what in saves.items()),
        *(Scenario(f"export-{fmt}", f"export to {fmt}, check its outputs, run it in {runtime}: "
                   "throughput beside the framework's, batch-1 latency",
                   "portable_infer_throughput", _deployed(deployment.export_scenario(fmt)))
          for fmt, runtime in (("onnx", "ONNX Runtime"),
                               ("openvino", "OpenVINO (from the ONNX export)"),
                               ("litert", "the LiteRT interpreter"))),
        Scenario("serve", "the model behind the same small HTTP server on 127.0.0.1: closed "
                 "loop at concurrency 1, 4, 16, open-loop Poisson arrivals",
                 "serve_latency_seconds", _deployed(deployment.run_serve), batch_size=1,
                 windowed=False),
    )


def run_train_ddp(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """Data-parallel training (measure.data_parallel, imported only for this scenario)."""
    from dlarena.measure import data_parallel

    return data_parallel.run_train_ddp(impl, runtime, workload, cell, progress)


def join_ranks(runtime: Runtime, cell: CellSpec, progress: Progress) -> None:
    """Data-parallel training's ranks, started and joined before any model is built."""
    from dlarena.measure import data_parallel

    data_parallel.start_and_join(runtime, cell, progress)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario for scenario in (
        Scenario("train", "samples/s of full optimizer steps (forward, backward, update)",
                 "train_throughput", _throughput(training=True)),
        Scenario("infer", "samples/s of forward passes in inference mode, no gradients",
                 "infer_throughput", _throughput(training=False)),
        Scenario("latency", "per-request latency of batch-1 inference after warm-up",
                 "latency_seconds", run_latency, batch_size=1, windowed=False),
        Scenario("startup", "import, build, first training step: time to a first result",
                 "time_to_first_result_seconds", run_startup, windowed=False),
        Scenario("convergence", "train N epochs on a real dataset: accuracy, time, memory",
                 "final_val_accuracy", run_convergence, windowed=False),
        Scenario("devex", "ease of development: code size, planted mistakes' tracebacks, "
                 "whether a breakpoint in the forward pass stops", None, run_devex,
                 windowed=False),
        *_deployment_scenarios(),
        Scenario("dataload", "images/s of the framework's input pipeline alone, from JPEG "
                 "files or record shards: decode, crop, flip, normalise, batch",
                 "load_throughput", dataload.run_dataload, needs_pipeline=True,
                 sweep={dataload.WORKERS_OPTION: dataload.LOADER_WORKERS,
                        dataload.FORMAT_OPTION: (JPEG, RECORDS)}),
        Scenario("train-from-files", "samples/s of training steps fed by the input pipeline, "
                 "alternating with steps fed from memory: input-bound below 0.9x",
                 "train_from_files_throughput", dataload.run_train_from_files,
                 needs_pipeline=True,
                 sweep={dataload.WORKERS_OPTION: dataload.LOADER_WORKERS}),
        Scenario("train-ddp", "samples/s of one model trained by N processes (data-parallel, "
                 "global batch), and the same-model check of N against 1",
                 "train_throughput", run_train_ddp, before_build=join_ranks),
    )
}

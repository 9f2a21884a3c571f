"""How each scenario measures, run inside the worker (stdlib and NumPy only).

A scenario's function gets a built implementation and returns its figures; `scenarios/`
lists the scenarios and names each one's function here by path ("module:function"), so the
coordinator reads that list without importing this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.contract import Implementation, Runtime, Workload
from dlarena.worker.parts import ScenarioResult, cycling, device_batches
from dlarena.worker.timing import Progress, measure

# A latency measurement keeps at least this many requests, however short the budget.
MIN_REQUESTS = 50


Run = Callable[[Implementation, Runtime, Workload, CellSpec, Progress], ScenarioResult]
# Runs after the framework is set up and before the cell's model is built.
BeforeBuild = Callable[[Runtime, CellSpec, Progress], None]


def runner(path: str) -> Run:
    """The scenario function at "module:function" (`Scenario.run`)."""
    found = registry.load(path)
    if not callable(found):
        raise TypeError(f"{path} is not a function")
    return cast(Run, found)


def before_build(path: str | None) -> BeforeBuild | None:
    """The function at "module:function" run before the model is built (`Scenario.before_build`)."""
    if path is None:
        return None
    found = registry.load(path)
    if not callable(found):
        raise TypeError(f"{path} is not a function")
    return cast(BeforeBuild, found)


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


run_train = _throughput(training=True)
run_infer = _throughput(training=False)


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
    from dlarena.worker.memory import peak_rss_bytes, reset_peak_rss

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
    from dlarena.worker.devex.scenario import run_devex as measure_devex

    metrics, details = measure_devex(impl, runtime, workload, cell, progress)
    return ScenarioResult(None, extra_metrics=metrics, details=details)


def _deployed(figures: Any) -> ScenarioResult:
    """A deployment scenario's figures (worker/deployment.py) as a scenario's result."""
    return ScenarioResult(figures.first_step_seconds, figures.timing, samples=figures.samples,
                          extra_metrics=figures.metrics, manifest=figures.manifest)


def run_save(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """save-weights, save-model, save-program: the kind is the scenario's last word."""
    from dlarena.worker import deployment

    kind = cell.scenario.removeprefix("save-")
    return _deployed(deployment.save_scenario(kind)(impl, runtime, workload, cell, progress))


def run_export(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """export-onnx, export-litert: the format is the scenario's last word."""
    from dlarena.worker import deployment

    fmt = cell.scenario.removeprefix("export-")
    return _deployed(deployment.export_scenario(fmt)(impl, runtime, workload, cell, progress))


def run_serve(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    from dlarena.worker import deployment

    return _deployed(deployment.run_serve(impl, runtime, workload, cell, progress))


def run_torchserve(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    from dlarena.worker import deployment

    return _deployed(deployment.run_torchserve(impl, runtime, workload, cell, progress))


def run_dataload(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    from dlarena.worker import dataload

    return dataload.run_dataload(impl, runtime, workload, cell, progress)


def run_train_from_files(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    from dlarena.worker import dataload

    return dataload.run_train_from_files(impl, runtime, workload, cell, progress)


def run_train_ddp(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """Data-parallel training (measure.data_parallel, imported only for this scenario)."""
    from dlarena.worker import data_parallel

    return data_parallel.run_train_ddp(impl, runtime, workload, cell, progress)


def join_ranks(runtime: Runtime, cell: CellSpec, progress: Progress) -> None:
    """Data-parallel training's ranks, started and joined before any model is built."""
    from dlarena.worker import data_parallel

    data_parallel.start_and_join(runtime, cell, progress)

"""`python -m dlarena.worker`: measure (or check) one cell in this process, then exit.

Reads one JSON request line on stdin ({"protocol", "task", "cell", "artifacts"}), which the
coordinator then holds open until this process exits (see `lifeline`: the worker and its
children die with the coordinator); writes JSON lines on the original stdout: progress
events, then exactly one result. Whatever the
framework prints goes to stderr, so it can never corrupt the protocol. Imports the standard
library, NumPy and the one framework asked for, nothing else: it may run in another
interpreter than the coordinator.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, TextIO

from dlarena import registry
from dlarena.cell import (
    FORKED_VARIABLE,
    PROTOCOL_VERSION,
    UNSUPPORTED,
    CellSpec,
    parse_worker_request,
)
from dlarena.contract import (
    Deployment,
    ExportUnsupported,
    Implementation,
    Predict,
    Runtime,
    Workload,
)
from dlarena.isolation import lifeline, netns
from dlarena.scenarios import SCENARIOS
from dlarena.worker.memory import peak_rss_bytes
from dlarena.worker.parts import ScenarioResult, build_implementation, setup_runtime
from dlarena.worker.runners import BeforeBuild, before_build, runner
from dlarena.worker.timing import Progress, Window

# Tasks of a deployment cell's child processes (deploy/child.py), not of the coordinator's.
CHILD_TASKS = ("load", "serve")


class Channel:
    """The protocol stream: one JSON object per line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        fields.update(event=event, protocol=PROTOCOL_VERSION)
        self._stream.write(json.dumps(fields) + "\n")
        self._stream.flush()


@dataclass(frozen=True)
class BuiltCell:
    """A cell ready to measure: framework configured, model built with the canonical weights."""

    workload: Workload
    runtime: Runtime
    impl: Implementation
    import_seconds: float
    build_seconds: float


def build_cell(cell: CellSpec, progress: Progress,
               before_build: BeforeBuild | None = None) -> BuiltCell:
    progress("import", 0, 1)
    started = time.perf_counter()
    runtime = setup_runtime(cell)
    import_seconds = time.perf_counter() - started
    if before_build is not None:
        before_build(runtime, cell, progress)

    progress("build", 0, 1)
    started = time.perf_counter()
    impl = build_implementation(cell, runtime)
    build_seconds = time.perf_counter() - started

    workload = registry.workloads()[cell.workload]
    counted, expected = impl.trainable_parameter_count(), workload.trainable_parameter_count(
        cell.size)
    if counted != expected:
        raise AssertionError(
            f"not the same model: {cell.framework} counts {counted} trainable parameters, "
            f"the workload's layout has {expected}"
        )
    return BuiltCell(workload, runtime, impl, import_seconds, build_seconds)


def _windows(windows: tuple[Window, ...]) -> list[list[float]]:
    return [[w.steps, w.seconds] for w in windows]


def measure_cell(cell: CellSpec, progress: Progress) -> dict[str, Any]:
    scenario = SCENARIOS[cell.scenario]
    built = build_cell(cell, progress, before_build(scenario.before_build))
    runtime, impl = built.runtime, built.impl
    started = time.perf_counter()
    result = runner(scenario.run)(impl, runtime, built.workload, cell, progress)
    scenario_seconds = time.perf_counter() - started
    metrics: dict[str, float] = {
        "import_seconds": built.import_seconds,
        "build_seconds": built.build_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "trainable_parameters": impl.trainable_parameter_count(),
        **result.extra_metrics,
    }
    if result.first_step_seconds is not None:
        metrics["first_step_seconds"] = result.first_step_seconds
        if os.environ.get(FORKED_VARIABLE) != "1":  # a forked worker's import was not its own
            metrics["time_to_first_result_seconds"] = (
                built.import_seconds + built.build_seconds + result.first_step_seconds)
    device_peak = runtime.peak_device_memory_bytes()
    if device_peak is not None:
        metrics["peak_device_memory_bytes"] = device_peak
    payload: dict[str, Any] = {
        "framework_version": runtime.version(),
        "device_name": runtime.device_name(),
        "clock_resolution": time.get_clock_info("perf_counter").resolution,
        "metrics": metrics,
        "samples": result.samples,
        "manifest": {
            **runtime.manifest(),
            **impl.hyperparameters(),
            "data_layout": impl.data_layout(),
            **result.manifest,
        },
        "pid": os.getpid(),
        "phases": phases(built, result, scenario_seconds),
    }
    if result.details:
        payload["scenario_details"] = result.details
    if result.timing is not None:
        payload.update(
            throughput_metric=scenario.headline,
            # Throughput counts the workload's unit: images, samples, or tokens of a sequence.
            items_per_step=cell.batch_size * built.workload.items_per_sample(cell.size),
            windows=_windows(result.timing.windows),
            warmup=_windows(result.timing.warmup),
            steps_per_window=result.timing.steps_per_window,
            warmup_capped=result.timing.warmup_capped,
        )
    return payload


def phases(built: BuiltCell, result: ScenarioResult, scenario_seconds: float
           ) -> dict[str, float]:
    """Where this process's time went, in seconds (the coordinator adds its start and exit):
    framework import, model build, then the scenario: its first step, the calibration of the
    window size, warm-up and the timed windows, and the rest of it (`prepare`: batches made,
    model prepared) where it times windows."""
    found = {"import": built.import_seconds, "build": built.build_seconds}
    timing = result.timing
    if timing is None:
        return {**found, "scenario": scenario_seconds}
    steps = {"first_step": timing.first_step_seconds, "calibrate": timing.calibration_seconds,
             "warmup": timing.warmup_seconds, "measure": timing.measure_seconds}
    return {**found, "prepare": max(0.0, scenario_seconds - sum(steps.values())), **steps}


def check_cell(cell: CellSpec, artifacts: str | None, progress: Progress) -> dict[str, Any]:
    from dlarena.parity.probe import probe

    if artifacts is None:
        raise ValueError("a check needs an artifacts path")
    progress("import", 0, 1)
    runtime = setup_runtime(cell)
    progress("check", 0, 1)
    probe(cell, runtime, lambda c: build_implementation(c, runtime), artifacts)
    return {"framework_version": runtime.version(), "device_name": runtime.device_name()}


def check_cells(listing: str | None, progress: Progress) -> dict[str, Any]:
    """`check_cell` for every cell of the JSON list at `listing` ({"cell", "artifacts"}
    each), in this one process: one framework and mode, its import paid once. A probe that
    fails is reported under its artifacts path; the others go on."""
    from dlarena.parity.probe import probe

    if listing is None:
        raise ValueError("checks need the path of their list")
    with open(listing) as file:
        jobs = [(CellSpec.from_dict(job["cell"]), str(job["artifacts"])) for job in json.load(file)]
    first = jobs[0][0]
    for cell, _ in jobs:
        shared = (cell.framework, cell.mode, cell.threads, cell.seed, cell.device)
        if shared != (first.framework, first.mode, first.threads, first.seed, first.device):
            raise ValueError(f"checks in one process share their framework, mode, threads, "
                             f"seed and device: {cell.label} differs from {first.label}")
    progress("import", 0, 1)
    runtime = setup_runtime(first)
    errors: dict[str, str] = {}
    for index, (cell, artifacts) in enumerate(jobs):
        progress("check", index, len(jobs))
        try:
            probe(cell, runtime, lambda c: build_implementation(c, runtime), artifacts)
        except Exception as error:  # this workload's pairs fail; the next workload is probed
            errors[artifacts] = f"{type(error).__name__}: {error}"
    progress("check", len(jobs), len(jobs))
    return {"framework_version": runtime.version(), "device_name": runtime.device_name(),
            "errors": errors}


def deployment_of(cell: CellSpec, impl: Implementation) -> Deployment:
    return registry.deployment_class(cell.framework)(impl)


def load_cell(cell: CellSpec, progress: Progress) -> dict[str, Any]:
    """In a fresh process: read a saved model, predict once, write the outputs (.npy)."""
    import numpy as np

    from dlarena.deploy.child import LOAD_JOB_OPTION, OTHER_WEIGHTS_SEED

    job = cell.options[LOAD_JOB_OPTION]
    progress("import", 0, 1)
    started = time.perf_counter()
    runtime = setup_runtime(cell)
    import_seconds = time.perf_counter() - started
    progress("build", 0, 1)
    started = time.perf_counter()
    impl = build_implementation(cell, runtime)
    # Other weights than the saved ones: a loader that reads nothing cannot pass.
    impl.set_weights(registry.workloads()[cell.workload].initial_weights(
        cell.size, cell.seed + OTHER_WEIGHTS_SEED))
    deployment = deployment_of(cell, impl)
    build_seconds = time.perf_counter() - started
    progress("load", 0, 1)
    started = time.perf_counter()
    predict = deployment.load(job["kind"], job["path"])
    read_seconds = time.perf_counter() - started
    inputs = np.load(job["inputs"], allow_pickle=False)
    started = time.perf_counter()
    outputs = predict(inputs)
    first_prediction_seconds = time.perf_counter() - started
    np.save(job["outputs"], np.asarray(outputs), allow_pickle=False)
    return {"framework_version": runtime.version(), "device_name": runtime.device_name(),
            "metrics": {"load_import_seconds": import_seconds,
                        "load_build_seconds": build_seconds,
                        "load_read_seconds": read_seconds,
                        "load_first_prediction_seconds": first_prediction_seconds,
                        "load_peak_rss_bytes": peak_rss_bytes()}}


def serving_predict(cell: CellSpec, progress: Progress) -> Predict:
    """The cell's model built as a server answers with: canonical weights, inference mode,
    a batch of canonical inputs in, its outputs out. dlarena's server and TorchServe's
    handler (worker/torchserve_handler.py) both serve this."""
    import numpy as np

    built = build_cell(cell, progress)
    deployment = deployment_of(cell, built.impl)
    built.impl.prepare(training=False)
    _, labels = built.workload.synthetic_batch(np.random.default_rng(0), 1, cell.size)

    def predict(inputs: np.ndarray) -> np.ndarray:
        return deployment.predict(inputs, np.resize(labels, (len(inputs), *labels.shape[1:])))

    return predict


def serve_cell(cell: CellSpec, channel: Channel, progress: Progress) -> dict[str, Any]:
    """Build the cell's model, serve it on 127.0.0.1 until stdin ends (deploy/server.py)."""
    from dlarena.deploy.server import CRASH_AFTER_OPTION, serve

    predict = serving_predict(cell, progress)
    crash_after = cell.options.get(CRASH_AFTER_OPTION)
    answered = serve(predict, crash_after=None if crash_after is None else int(crash_after),
                     on_listening=lambda port, token: channel.emit(
                         "listening", port=port, token=token, pid=os.getpid()))
    return {"metrics": {"answered": answered}}


def main() -> int:
    # On the clock every process of this machine shares: the coordinator, which started this
    # process, subtracts its own reading to find the interpreter's start and dlarena's imports.
    entered = time.monotonic()
    lifeline.die_with_parent()
    # Keep the real stdout for the protocol; send fd 1 (framework chatter) to stderr.
    channel = Channel(os.fdopen(os.dup(sys.stdout.fileno()), "w"))
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def progress(phase: str, done: int, total: int) -> None:
        channel.emit("progress", phase=phase, done=done, total=total)

    try:
        request = sys.stdin.readline()
        cell, task, artifacts, process = parse_worker_request(request)
        if task not in CHILD_TASKS:
            # After the request: the guardian reads stdin too. A deployment cell's child is
            # in its cell's group, which that cell's guardian already watches.
            lifeline.guard_process_group()
        if cell.options.get(netns.OPTION):
            netns.enter()  # before any framework is imported, and any port opened
        # Each worker process of a cell is an independent replicate: its own seed.
        cell = dataclasses.replace(cell, seed=cell.seed + process)
        if task == "check":
            payload = check_cell(cell, artifacts, progress)
        elif task == "checks":
            payload = check_cells(artifacts, progress)
        elif task == "load":
            payload = load_cell(cell, progress)
        elif task == "serve":
            payload = serve_cell(cell, channel, progress)
        else:
            payload = measure_cell(cell, progress)
    except ExportUnsupported as reason:  # a recorded outcome, not a failure
        channel.emit("result", status=UNSUPPORTED, error=str(reason) or "(no reason given)")
        return 0
    except Exception as error:  # every failure is data for the store, not a lost run
        channel.emit(
            "result",
            status="error",
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
        )
        return 1
    channel.emit("result", status="ok", entered_monotonic=entered, **payload)
    return 0


if __name__ == "__main__":
    lifeline.exit_now(main())  # the cell ended with its result

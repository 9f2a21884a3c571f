"""Deployment scenarios: save and load, export and portable inference, serving under load.

Each runs in the cell's worker around the implementation the cell built, through the
framework's `Deployment` (frameworks/<name>/deploy.py); the machinery is framework-neutral
(dlarena/deploy/). Files go to a temporary folder that the cell removes; child processes (a
fresh process that loads, the server) are always ended by the cell.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.contract import Deployment, ExportUnsupported, Implementation, Runtime, Workload
from dlarena.deploy import load as loadgen
from dlarena.deploy import portable
from dlarena.deploy.child import LOAD_JOB_OPTION, Child, ChildFailed
from dlarena.deploy.compare import agreement
from dlarena.measure.timing import Progress, TimingResult, measure

CONCURRENCIES = (1, 4, 16)
# Open loop: arrival rates as multiples of the closed-loop concurrency-1 throughput, stepped
# up until p99 latency exceeds the bound: P99_BOUND_FACTOR x the concurrency-1 p99 (the rate
# at which queueing doubles the tail a lone client sees).
POISSON_STEPS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
P99_BOUND_FACTOR = 2.0
# Requests per load level at most (with a time bound from the cell's measure settings).
MAX_REQUESTS = 2000
# Requests that warm the server up after its first answer, before any level is measured.
WARMUP_REQUESTS = 5
# Planted fault for the tests: one request without the server's token, as another local
# program could send.
FOREIGN_OPTION = "plant_foreign_request"
MIN_LATENCY_REQUESTS = 20
# Fresh processes that load a saved model, per save cell: their spread gives the verdict a
# confidence interval.
LOADS_BY_SIZE = {"smoke": 1, "cpu": 3, "full": 5}


@dataclasses.dataclass(frozen=True)
class Figures:
    first_step_seconds: float
    timing: TimingResult | None = None
    samples: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)


def _deployment(impl: Implementation, cell: CellSpec) -> Deployment:
    path = registry.deployment_path(cell.framework)
    if path is None:
        raise LookupError(f"{cell.framework} has no deployment paths (frameworks/"
                          f"{cell.framework}/deploy.py)")
    return registry.load(path)(impl)  # type: ignore[operator,no-any-return]


@contextmanager
def _scratch() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="dlarena-deploy-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _size(path: str) -> int:
    """Bytes of a saved file with its side files (an ONNX file's external weights,
    `model.onnx.data`), or of a saved folder."""
    if os.path.isfile(path):
        return sum(os.path.getsize(found) for found in glob.glob(glob.escape(path) + "*")
                   if os.path.isfile(found))
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def _batch(workload: Workload, cell: CellSpec, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    return workload.synthetic_batch(np.random.default_rng(cell.seed + 1), batch_size, cell.size)


def _level_seconds(cell: CellSpec) -> float:
    return cell.measure.windows * cell.measure.min_window_seconds


# -- save and load -----------------------------------------------------------------------------

def save_scenario(kind: str) -> Callable[..., Figures]:
    def run(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
            progress: Progress) -> Figures:
        deployment = _deployment(impl, cell)
        try:
            format_name = deployment.format_name(kind)
        except ExportUnsupported as error:
            raise RuntimeError(f"no {kind} format: {error}") from None
        inputs, labels = _batch(workload, cell, cell.batch_size)
        reference = deployment.predict(inputs, labels)
        with _scratch() as folder:
            progress("save", 0, 1)
            started = time.perf_counter()
            path = deployment.save(kind, folder, inputs)
            save_seconds = time.perf_counter() - started
            job = {"kind": kind, "path": path, "inputs": os.path.join(folder, "inputs.npy"),
                   "outputs": os.path.join(folder, "outputs.npy")}
            np.save(job["inputs"], inputs, allow_pickle=False)
            child_cell = dataclasses.replace(cell, options={**cell.options, LOAD_JOB_OPTION: job})
            loads = LOADS_BY_SIZE.get(cell.size, 1)
            samples: dict[str, list[float]] = {"load_seconds": []}
            for index in range(loads):
                progress("load in a fresh process", index, loads)
                with Child(child_cell, "load") as child:
                    try:
                        result = child.event("result", cell.timeout_seconds / (2 * loads))
                    except ChildFailed as error:
                        raise RuntimeError(f"loading the {format_name} file in a fresh process "
                                           f"failed: {error}") from None
                    wall = time.perf_counter() - child.started
                outputs = np.load(job["outputs"], allow_pickle=False)
                loaded = {name: float(value) for name, value in result["metrics"].items()}
                for name, value in loaded.items():
                    samples.setdefault(name, []).append(value)
                # A code-free format needs no model code: its load excludes building it.
                samples["load_seconds"].append(
                    wall - (loaded["load_build_seconds"] if kind != "weights" else 0.0))
                check = agreement(reference, outputs, exact=deployment.bit_exact(kind))
                if not check.equal:
                    raise AssertionError(f"the model loaded from {format_name} computes other "
                                         f"outputs than the saved one: {check.reason}")
            size = _size(path)
        return Figures(save_seconds, samples=samples, metrics={
            "save_seconds": save_seconds, "file_bytes": float(size),
            "max_abs_difference": check.max_abs_difference,
            "bit_exact_promised": float(deployment.bit_exact(kind))},
            manifest={"saved_format": format_name})
    return run


# -- export and portable inference ---------------------------------------------------------------

def _throughput(step: Callable[[], Any], cell: CellSpec, items: int,
                progress: Progress) -> tuple[TimingResult, float]:
    timing = measure(step, lambda value: None, cell.measure, progress=progress)
    rates = [w.steps * items / w.seconds for w in timing.windows]
    return timing, float(np.median(rates))


def _latencies(step: Callable[[], Any], seconds: float) -> list[float]:
    step()  # one unmeasured: a first call may plan or allocate
    values: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(values) < MIN_LATENCY_REQUESTS:
        started = time.perf_counter()
        step()
        values.append(time.perf_counter() - started)
    return values


def export_scenario(portable_format: str) -> Callable[..., Figures]:
    def run(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
            progress: Progress) -> Figures:
        deployment = _deployment(impl, cell)
        inputs, labels = _batch(workload, cell, cell.batch_size)
        single, single_labels = _batch(workload, cell, 1)
        reference = deployment.predict(inputs, labels)
        items = cell.batch_size * workload.items_per_sample(cell.size)
        with _scratch() as folder:
            progress("export", 0, 1)
            started = time.perf_counter()
            try:
                path = deployment.export(
                    portable.EXPORTED_AS.get(portable_format, portable_format), folder, inputs)
            except ExportUnsupported as error:
                raise RuntimeError(f"export to {portable_format} failed: {error}") from None
            export_seconds = time.perf_counter() - started
            size = _size(path)
            # The framework before the runtime is opened: a portable runtime's thread pool
            # keeps spinning for a while after its calls, and took the cores from the
            # framework measured after it.
            progress("native", 0, 1)
            impl.prepare(training=False)
            native_batch = impl.to_device(inputs, labels)
            native_one = impl.to_device(single, single_labels)
            _, native_rate = _throughput(
                lambda: runtime.sync(impl.infer_step(native_batch)), cell, items, progress)
            native_latency = _latencies(lambda: runtime.sync(impl.infer_step(native_one)),
                                        _level_seconds(cell) / 4)
            try:
                model = portable.open_model(portable_format, path, cell.threads.intra_op)
            except Exception as error:  # the exporter wrote a model its runtime refuses
                text = str(error).strip().splitlines()
                raise RuntimeError(
                    f"the {portable_format} export does not load in "
                    f"{portable.runtime_version(portable_format)}: {type(error).__name__}: "
                    f"{text[0][:300] if text else '(no message)'}") from None
            batch, one = deployment.portable_inputs(inputs), deployment.portable_inputs(single)
            check = agreement(reference, model(batch), exact=False)
            if not check.equal:
                raise AssertionError(f"the {portable_format} export computes other outputs than "
                                     f"the framework: {check.reason}")
            timing, portable_rate = _throughput(lambda: model(batch), cell, items, progress)
            portable_latency = _latencies(lambda: model(one), _level_seconds(cell) / 4)
        return Figures(export_seconds, timing, samples={
            "portable_latency_seconds": portable_latency,
            "native_latency_seconds": native_latency,
        }, metrics={
            "export_seconds": export_seconds, "export_bytes": float(size),
            "max_abs_difference": check.max_abs_difference,
            "native_infer_throughput": native_rate,
            "portable_speedup": portable_rate / native_rate,
        }, manifest={"portable_runtime": portable.runtime_version(portable_format)})
    return run


# -- serving under load ------------------------------------------------------------------------

class ServerDied(RuntimeError):
    pass


class ServerDisturbed(RuntimeError):
    """Connections other than the load generator's reached the server during the cell."""


def _vm_hwm_bytes(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run_serve(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
              progress: Progress) -> Figures:
    """The cell's model behind the small HTTP server (a child process) under closed-loop
    load at concurrency 1, 4, 16, then open-loop Poisson arrivals stepped up until p99
    exceeds its bound. This worker only generates load; the server computes."""
    single, _ = _batch(workload, cell, 1)
    buffer = io.BytesIO()
    np.save(buffer, single, allow_pickle=False)
    body = buffer.getvalue()
    seconds = _level_seconds(cell)
    metrics: dict[str, float] = {}
    samples: dict[str, list[float]] = {}

    with Child(cell, "serve") as server:
        progress("server start", 0, 1)
        listening = server.event("listening", cell.timeout_seconds / 3)
        port, token = int(listening["port"]), str(listening["token"])
        first_error: Exception | None = None
        while True:  # the first answered request
            try:
                loadgen.post_once(port, body, token=token)
                break
            except Exception as error:
                first_error = error
                if server.exit_code() is not None or (
                        time.perf_counter() - server.started > cell.timeout_seconds / 3):
                    raise ServerDied(f"the server never answered: {first_error}; "
                                     f"{server.stderr_tail()}") from None
                time.sleep(0.05)
        metrics["server_start_seconds"] = time.perf_counter() - server.started
        for _ in range(WARMUP_REQUESTS):
            loadgen.post_once(port, body, token=token)
        if cell.options.get(FOREIGN_OPTION):
            with contextlib.suppress(RuntimeError, OSError):
                loadgen.post_once(port, body, token="not the token")

        def checked(result: loadgen.LoadResult, what: str) -> loadgen.LoadResult:
            code = server.exit_code()
            if code is not None:
                raise ServerDied(
                    f"the server exited with code {code} during {what} after "
                    f"{len(result.latencies)} answers and {result.errors} errors "
                    f"({result.first_error or 'no error seen'})")
            return result

        for index, concurrency in enumerate(CONCURRENCIES):
            progress("closed loop", index, len(CONCURRENCIES))
            result = checked(loadgen.closed_loop(
                port, body, token=token, concurrency=concurrency, max_requests=MAX_REQUESTS,
                max_seconds=seconds), f"the closed loop at concurrency {concurrency}")
            if concurrency == 1:
                samples["serve_latency_seconds"] = result.latencies
            metrics[f"serve_requests_per_second_c{concurrency}"] = result.requests_per_second
            for q in (50, 90, 99):
                metrics[f"serve_p{q}_seconds_c{concurrency}"] = result.percentile(q)
            metrics[f"serve_errors_c{concurrency}"] = float(result.errors)

        base_rate = metrics["serve_requests_per_second_c1"]
        bound = P99_BOUND_FACTOR * metrics["serve_p99_seconds_c1"]
        metrics["poisson_p99_bound_seconds"] = bound
        offered, achieved, p99s, errors = [], [], [], []
        for index, factor in enumerate(POISSON_STEPS):
            progress("open loop", index, len(POISSON_STEPS))
            rate = factor * base_rate
            result = checked(loadgen.open_loop(
                port, body, token=token, rate=rate,
                max_requests=min(MAX_REQUESTS, int(rate * seconds) + 1), max_seconds=seconds,
                seed=cell.seed + index),
                f"the open loop at {rate:.3g} requests/s")
            if not result.latencies:
                # No arrival fell inside the level's time (a short level at a low rate), or
                # none was answered: the level has no latency (a NaN the store refuses).
                break
            offered.append(rate)
            achieved.append(result.requests_per_second)
            p99s.append(result.percentile(99))
            errors.append(float(result.errors))
            if result.errors == 0 and p99s[-1] <= bound:
                metrics["poisson_max_rate_within_bound"] = rate
            else:
                break
        samples.update(poisson_offered_rate=offered, poisson_achieved_rate=achieved,
                       poisson_p99_seconds=p99s, poisson_errors=errors)
        foreign = loadgen.server_stats(port, token=token)["foreign"]
        if foreign:
            raise ServerDisturbed(
                f"the server closed {foreign} connection(s) that were not this cell's load "
                "generator's (no token, silent, or over its connection cap): another "
                "program shared the machine's loopback, so these figures are not stored")
        peak = _vm_hwm_bytes(server.process.pid)
        if peak is not None:
            metrics["server_peak_rss_bytes"] = peak
    return Figures(metrics["server_start_seconds"], samples=samples, metrics=metrics)

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
from dlarena.deploy import portable, torchserve
from dlarena.deploy.child import LOAD_JOB_OPTION, Child, ChildFailed
from dlarena.deploy.compare import agreement
from dlarena.scenarios.deployment import P99_REQUESTS
from dlarena.worker.timing import Progress, TimingResult, measure

CONCURRENCIES = (1, 4, 16)
# Every load level runs until its p99 rests on P99_REQUESTS requests, or until its time bound
# (LEVEL_BOUND_FACTOR x the cell's windows x window seconds: 3 s at smoke in the deploy
# suite, 15 s at cpu), whichever comes first; each level's count and the bound are stored,
# so a p99 on fewer requests is shown as such. The 99th percentile of 1000 requests is their
# 10th largest: 10 requests in the tail, where 100 requests would leave one.
LEVEL_BOUND_FACTOR = 5.0
# Open loop: a search for the saturation rate, the highest Poisson arrival rate the server
# holds: no failed request and p99 within P99_BOUND_FACTOR x the concurrency-1 p99. Random
# arrivals queue even at an ideal server: one that computes a request in exactly s seconds,
# one at a time (M/D/1), has a p99 of 2.7 s at 25% of its capacity, 4.3 s at 50%, 11 s at 80%
# and 22 s at 90% (simulated). A bound of twice the lone client's p99 (~2.6 s) therefore broke
# at a quarter of any server's capacity, and every level of the search (from half) broke:
# no saturation rate was ever found. Ten times holds an ideal server to ~80% of its capacity,
# so the rate found is where this server's tail leaves queueing's, its knee. Rates climb from
# START_FACTOR x the concurrency-1 throughput by RATE_GROWTH per level until one breaks (or
# fall by RATE_GROWTH per level until one holds, when the first already broke: PyTorch's MLP
# server broke at its first level by 5%, p99 13.7 ms against a 13 ms bound, and the search
# had ended there without a rate), then BISECTIONS levels halve the gap between the highest
# rate that held and the lowest that broke; at most MAX_OPEN_LEVELS levels in all.
P99_BOUND_FACTOR = 10.0
START_FACTOR = 0.5
RATE_GROWTH = 1.5
BISECTIONS = 2
MAX_OPEN_LEVELS = 12
# Requests that warm the server up after its first answer, before any level is measured.
WARMUP_REQUESTS = 5
# Planted fault for the tests: one request without the server's token, as another local
# program could send.
FOREIGN_OPTION = "plant_foreign_request"
MIN_LATENCY_REQUESTS = 20
# TorchServe: requests one at a time whose time is broken down by its own metrics logs, and
# how long those logs may lag behind the last answer.
BREAKDOWN_REQUESTS = 200
LOG_WAIT_SECONDS = 5.0
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
    return registry.deployment_class(cell.framework)(impl)


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


def next_rate(held: float | None, broke: float | None, rate: float,
              bisections: int) -> float | None:
    """The open loop's next arrival rate after a level at `rate`, given the highest rate that
    held and the lowest that broke so far (None: none yet) and the bisections done; None when
    the search is over."""
    if broke is None:
        return rate * RATE_GROWTH  # climbing: nothing broke yet
    if held is None:
        return rate / RATE_GROWTH  # even the first rate broke: down until one holds
    if bisections >= BISECTIONS:
        return None  # the gap is narrow enough
    return (held + broke) / 2


def search_saturation(level: Callable[[float, int], loadgen.LoadResult], start: float,
                      bound: float) -> tuple[dict[str, list[float]], float | None]:
    """Open-loop levels from `start` requests/s (`level(rate, index)` runs one) until
    `next_rate` ends the search: each level's samples, and the highest rate that held (no
    failed request, p99 within `bound`), None when none did."""
    names = ("poisson_offered_rate", "poisson_achieved_rate", "poisson_p99_seconds",
             "poisson_p50_seconds", "poisson_errors", "poisson_requests")
    levels: dict[str, list[float]] = {name: [] for name in names}
    held: float | None = None
    broke: float | None = None
    bisections = 0
    rate: float | None = start
    while rate is not None and len(levels["poisson_offered_rate"]) < MAX_OPEN_LEVELS:
        bisecting = held is not None and broke is not None  # this level halves a gap
        result = level(rate, len(levels["poisson_offered_rate"]))
        if not result.latencies:
            # No arrival fell inside the level's time (a short level at a low rate), or none
            # was answered: the level has no latency (a NaN the store refuses).
            break
        p99 = result.percentile(99)
        for name, value in zip(names, (rate, result.requests_per_second, p99,
                                       result.percentile(50), float(result.errors),
                                       float(len(result.latencies))), strict=True):
            levels[name].append(value)
        bisections += bisecting
        if result.errors == 0 and p99 <= bound:
            held = rate if held is None else max(held, rate)
        else:
            broke = rate if broke is None else min(broke, rate)
        rate = next_rate(held, broke, rate, bisections)
    return levels, held


# -- save and load -----------------------------------------------------------------------------

def save_scenario(kind: str) -> Callable[..., Figures]:
    def run(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
            progress: Progress) -> Figures:
        deployment = _deployment(impl, cell)
        format_name = deployment.format_name(kind)  # ExportUnsupported: the cell's outcome
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
            # ExportUnsupported (the exporter refuses the model): the cell's outcome.
            exported_as = portable.EXPORTED_AS.get(portable_format, portable_format)
            if exported_as not in deployment.portable_formats:
                raise ExportUnsupported(
                    f"{cell.framework} has no {exported_as} exporter "
                    f"({portable.ONLY_FROM.get(exported_as, 'no framework here exports it')})")
            path = deployment.export(exported_as, folder, inputs)
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
            runtime_name = portable_format
            try:
                own = deployment.open_exported(portable_format, path, cell.threads.intra_op)
                if own is None:
                    runtime_name = portable.runtime_version(portable_format)
                    model = portable.open_model(portable_format, path, cell.threads.intra_op)
                else:
                    model, runtime_name = own
            except Exception as error:  # the exporter wrote a model its runtime refuses
                text = str(error).strip().splitlines()
                raise RuntimeError(
                    f"the {portable_format} export does not load in {runtime_name}: "
                    f"{type(error).__name__}: "
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
        }, manifest={"portable_runtime": runtime_name})
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


@dataclasses.dataclass(frozen=True)
class _Running:
    """A model server as the load generator drives it: where to send, when it started,
    whether it has exited, and what it last printed."""

    target: loadgen.Target
    started: float
    exit_code: Callable[[], int | None]
    output_tail: Callable[[], str]


def _serve_body(workload: Workload, cell: CellSpec) -> bytes:
    single, _ = _batch(workload, cell, 1)
    buffer = io.BytesIO()
    np.save(buffer, single, allow_pickle=False)
    return buffer.getvalue()


def _first_answer(server: _Running, body: bytes, cell: CellSpec) -> float:
    """Send until the server answers (it may still be loading the model), then the warm-up
    requests; the seconds from its start to that first answer."""
    while True:
        try:
            loadgen.post_once(server.target, body)
            break
        except Exception as error:
            if server.exit_code() is not None or (
                    time.perf_counter() - server.started > cell.timeout_seconds / 3):
                raise ServerDied(f"the server never answered: {error}; "
                                 f"{server.output_tail()}") from None
            time.sleep(0.05)
    answered = time.perf_counter() - server.started
    for _ in range(WARMUP_REQUESTS):
        loadgen.post_once(server.target, body)
    return answered


def _under_load(server: _Running, body: bytes, cell: CellSpec,
                progress: Progress) -> tuple[dict[str, float], dict[str, list[float]]]:
    """After the first answer and the warm-up requests: closed-loop load at concurrency 1,
    4, 16, then open-loop Poisson arrivals at rates that search for the saturation rate
    (`next_rate`). The metrics and samples of every level."""
    # Each level's time bound, when P99_REQUESTS take longer.
    seconds = LEVEL_BOUND_FACTOR * _level_seconds(cell)
    metrics: dict[str, float] = {"serve_level_bound_seconds": seconds}
    samples: dict[str, list[float]] = {}

    def checked(result: loadgen.LoadResult, what: str) -> loadgen.LoadResult:
        code = server.exit_code()
        if code is not None:
            raise ServerDied(
                f"the server exited with code {code} during {what} after "
                f"{len(result.latencies)} answers and {result.errors} errors "
                f"({result.first_error or 'no error seen'}); {server.output_tail()}")
        return result

    for index, concurrency in enumerate(CONCURRENCIES):
        progress("closed loop", index, len(CONCURRENCIES))
        result = checked(loadgen.closed_loop(
            server.target, body, concurrency=concurrency, max_requests=P99_REQUESTS,
            max_seconds=seconds), f"the closed loop at concurrency {concurrency}")
        if concurrency == 1:
            samples["serve_latency_seconds"] = result.latencies
        metrics[f"serve_requests_per_second_c{concurrency}"] = result.requests_per_second
        for q in (50, 90, 99):
            metrics[f"serve_p{q}_seconds_c{concurrency}"] = result.percentile(q)
        metrics[f"serve_errors_c{concurrency}"] = float(result.errors)
        metrics[f"serve_requests_c{concurrency}"] = float(len(result.latencies))
        if result.errors and not result.latencies:
            raise RuntimeError(f"every request of the closed loop at concurrency "
                               f"{concurrency} failed: {result.first_error}")

    base_rate = metrics["serve_requests_per_second_c1"]
    bound = P99_BOUND_FACTOR * metrics["serve_p99_seconds_c1"]
    metrics["poisson_p99_bound_seconds"] = bound

    def level(rate: float, index: int) -> loadgen.LoadResult:
        progress("open loop", index, MAX_OPEN_LEVELS)
        return checked(loadgen.open_loop(
            server.target, body, rate=rate, max_requests=P99_REQUESTS, max_seconds=seconds,
            seed=cell.seed + index), f"the open loop at {rate:.3g} requests/s")

    levels, held = search_saturation(level, START_FACTOR * base_rate, bound)
    samples.update(levels)
    if held is not None:
        metrics["poisson_max_rate_within_bound"] = held
    return metrics, samples


def run_serve(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
              progress: Progress) -> Figures:
    """The cell's model behind dlarena's small HTTP server (a child process) under load
    (`_under_load`). This worker only generates load; the server computes."""
    body = _serve_body(workload, cell)
    with Child(cell, "serve") as child:
        progress("server start", 0, 1)
        listening = child.event("listening", cell.timeout_seconds / 3)
        server = _Running(loadgen.dlarena_server(int(listening["port"]), str(listening["token"])),
                          child.started, child.exit_code, child.stderr_tail)
        start_seconds = _first_answer(server, body, cell)
        if cell.options.get(FOREIGN_OPTION):
            with contextlib.suppress(RuntimeError, OSError):
                loadgen.post_once(dataclasses.replace(server.target, headers={}), body)
        metrics, samples = _under_load(server, body, cell, progress)
        metrics["server_start_seconds"] = start_seconds
        foreign = loadgen.server_stats(server.target)["foreign"]
        if foreign:
            raise ServerDisturbed(
                f"the server closed {foreign} connection(s) that were not this cell's load "
                "generator's (no token, silent, or over its connection cap): another "
                "program shared the machine's loopback, so these figures are not stored")
        peak = _vm_hwm_bytes(child.process.pid)
        if peak is not None:
            metrics["server_peak_rss_bytes"] = peak
    return Figures(start_seconds, samples=samples, metrics=metrics,
                   manifest={"server": "dlarena"})


def _torchserve_breakdown(served: torchserve.TorchServe, server: _Running, body: bytes,
                          cell: CellSpec) -> dict[str, list[float]]:
    """BREAKDOWN_REQUESTS requests one at a time, with TorchServe's own figures for each
    (its metrics logs): the client's latency beside the front end's, its queue's and the
    handler's, so that what TorchServe adds to the model's time is visible."""
    # TorchServe logs a request's figures as it answers: the warm-up's last ones may come
    # after its answer. Let them land before the position is taken.
    time.sleep(LOG_WAIT_SECONDS / 10)
    since = served.log_position()
    result = loadgen.closed_loop(server.target, body, concurrency=1,
                                 max_requests=BREAKDOWN_REQUESTS,
                                 max_seconds=LEVEL_BOUND_FACTOR * _level_seconds(cell))
    if not result.latencies:
        raise RuntimeError(f"TorchServe answered none of {result.errors} requests: "
                           f"{result.first_error}")
    answered = len(result.latencies)
    deadline = time.perf_counter() + LOG_WAIT_SECONDS
    while True:  # log4j writes each figure as its request ends; wait for the last ones
        figures = served.request_figures(since)
        if min(map(len, figures.values())) >= answered or time.perf_counter() > deadline:
            break
        time.sleep(0.05)
    # Should an earlier figure still have landed late, the last `answered` are this loop's.
    return {"torchserve_client_seconds": result.latencies,
            **{name: values[-answered:] for name, values in figures.items()}}


def run_torchserve(impl: Implementation, runtime: Runtime, workload: Workload,
                   cell: CellSpec, progress: Progress) -> Figures:
    """The same model as the `serve` cell's (worker/torchserve_handler.py) behind TorchServe
    (deploy/torchserve.py), under the same load. Its start counts from the Java front end's
    launch to the first answer; its peak memory is the front end's and the Python backend's
    peaks, summed."""
    if "torchserve" not in _deployment(impl, cell).model_servers:
        raise ExportUnsupported(f"TorchServe serves PyTorch models; {cell.framework} has its "
                                "own servers (dlarena serves it with its small server: serve)")
    reason = torchserve.unavailable()
    if reason is not None:
        raise ExportUnsupported(reason)
    body = _serve_body(workload, cell)
    with _scratch() as folder:
        progress("server start", 0, 1)
        with torchserve.TorchServe(cell, folder) as served:
            server = _Running(served.target(cell.timeout_seconds / 3), served.started,
                              served.exit_code, served.log_tail)
            start_seconds = _first_answer(server, body, cell)
            breakdown = _torchserve_breakdown(served, server, body, cell)
            metrics, samples = _under_load(server, body, cell, progress)
            samples.update(breakdown)
            metrics["server_start_seconds"] = start_seconds
            peaks = [_vm_hwm_bytes(pid) for pid in served.processes()]
            if all(peak is not None for peak in peaks):
                metrics["server_peak_rss_bytes"] = float(sum(peaks))  # type: ignore[arg-type]
    return Figures(start_seconds, samples=samples, metrics=metrics, manifest={
        "server": f"TorchServe {torchserve.version()}",
        "server_processes": "a Java front end and one Python backend worker",
        "foreign_requests": "refused by TorchServe's token authorization, not counted"})

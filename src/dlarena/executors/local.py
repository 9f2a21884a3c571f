"""Run each cell in its own `python -m dlarena.worker` process on this machine."""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from dlarena import registry
from dlarena.cell import ERROR, OK, UNSUPPORTED, CellSpec, ThreadSettings, worker_request
from dlarena.contract import FrameworkInfo
from dlarena.executors.base import CellOutcome, Executor, ProgressHandler
from dlarena.executors.forkserver import ForkedWorker, ForkServer, ForkServerUnavailable
from dlarena.isolation import lifeline, netns

STDERR_TAIL_LINES = 40
# A cell's details say so when its process was forked from a fork server.
FORKED = "forked from its framework's fork server for the round"
# How long a worker that has reported its result may take to exit before it is killed (a
# framework's teardown takes a second or two; a hung atexit handler takes forever).
EXIT_GRACE_SECONDS = 10.0
# The worker imports dlarena from the same source tree as the coordinator, whatever
# interpreter runs it.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def worker_environment(
    threads: ThreadSettings, base: Mapping[str, str], *, framework: FrameworkInfo | None = None,
    scratch: str | None = None,
) -> dict[str, str]:
    """A worker's variables: its threads (the BLAS/OpenMP ones, and the framework's own),
    dlarena on the path, the framework's log silencing unless the user set it, and, given
    `scratch`, its compiler caches there, so every worker compiles from nothing, as a first
    run does."""
    env = dict(base)
    env.update(threads.environment())
    if framework is not None:
        env.update(dict.fromkeys(framework.intra_op_variables, str(threads.intra_op)))
        env.update(dict.fromkeys(framework.inter_op_variables, str(threads.inter_op)))
        for name, value in framework.quiet_variables.items():
            env.setdefault(name, value)
        if scratch is not None:
            env.update(compiler_caches(framework, scratch))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, base.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env[lifeline.COORDINATOR_VARIABLE] = str(os.getpid())
    return env


def compiler_caches(framework: FrameworkInfo, scratch: str) -> dict[str, str]:
    """The framework's compiler-cache variables, each pointing inside `scratch`."""
    return {name: os.path.join(scratch, folder)
            for name, folder in framework.cache_variables.items()}


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class LocalExecutor(Executor):
    """Runs each cell in a worker process of its own, from the calling thread (see
    `lifeline`: the worker is killed when the thread that started it ends).

    A worker starts afresh (`python -m dlarena.worker`), or, for a measured cell of a
    scenario in `forked_scenarios` on the CPU, is forked from a fork server that imported
    its framework once for the round (`replicate`): start-up is paid once per framework and
    round, not per cell, where start-up is not what the scenario measures. Each round has
    servers of its own, so a cell's replicates never share one.
    """

    def __init__(self, interpreters: Mapping[str, str] | None = None, *,
                 exit_grace_seconds: float = EXIT_GRACE_SECONDS,
                 forked_scenarios: Collection[str] = ()) -> None:
        self._interpreters = dict(interpreters or {})
        self._exit_grace = exit_grace_seconds
        self._forked_scenarios = frozenset(forked_scenarios)
        self._servers: dict[tuple[Any, ...], ForkServer] = {}
        self._unavailable: dict[tuple[Any, ...], str] = {}
        # Workers in flight, which `cancel` kills: runs from several threads (the same-model
        # checks) are not interrupted with the thread that is.
        self._in_flight: set[subprocess.Popen[str] | ForkedWorker] = set()
        self._in_flight_lock = threading.Lock()

    def cancel(self) -> None:
        with self._in_flight_lock:
            running = list(self._in_flight)
        for process in running:
            _kill(process)

    def end_round(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()

    def close(self) -> None:
        self.end_round()

    def interpreter(self, framework: str) -> str:
        return self._interpreters.get(framework, sys.executable)

    def run(
        self, cell: CellSpec, on_progress: ProgressHandler, *, task: str = "measure",
        artifacts: str | None = None, replicate: int = 0,
    ) -> CellOutcome:
        # Compiler caches live here for the worker's lifetime and go with it.
        with tempfile.TemporaryDirectory(prefix="dlarena-worker-") as scratch:
            return self._supervise(cell, on_progress, task, artifacts, replicate, scratch)

    def _supervise(
        self, cell: CellSpec, on_progress: ProgressHandler, task: str, artifacts: str | None,
        replicate: int, scratch: str,
    ) -> CellOutcome:
        """Start the worker, relay its progress, enforce the timeout, read its result."""
        interpreter = self.interpreter(cell.framework)
        started_utc = datetime.now(UTC).isoformat(timespec="seconds")
        started = time.monotonic()
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

        how: dict[str, Any] = {}  # {"process": FORKED} for a forked worker

        def outcome(
            error: str | None, payload: dict[str, Any] | None = None,
            details: dict[str, Any] | None = None, *, status: str = ERROR,
        ) -> CellOutcome:
            return CellOutcome(
                cell=cell, status=OK if error is None else status, error=error,
                payload=payload or {}, stderr_tail="".join(stderr_tail),
                started_utc=started_utc, wall_seconds=time.monotonic() - started,
                interpreter=interpreter, details={**how, **(details or {})},
            )

        argv = [interpreter, "-m", "dlarena.worker"]
        if cell.options.get(netns.OPTION):
            try:
                argv = netns.command(argv)
            except netns.PrivateNetworkUnavailable as error:
                return outcome(f"cannot start the worker in a private network namespace, "
                               f"which this cell needs: {error.strerror}")
        framework = registry.frameworks()[cell.framework]
        process: subprocess.Popen[str] | ForkedWorker | None = None
        server_seconds = 0.0
        spawned = started
        if task == "measure" and cell.scenario in self._forked_scenarios \
                and cell.device == "cpu" and not cell.options.get(netns.OPTION):
            process, server_seconds, spawned, why = self._forked(
                cell, framework, interpreter, replicate, scratch)
            if process is not None:
                how["process"] = FORKED
            else:  # said with the cell: its process started afresh, and why
                how["fork_server_unavailable"] = why
        if process is None:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=worker_environment(cell.threads, os.environ, scratch=scratch,
                                           framework=framework),
                    start_new_session=True,  # the worker and its children die as a group
                )
            except OSError as error:
                return outcome(f"cannot start worker interpreter {interpreter}: {error}")
        with self._in_flight_lock:
            self._in_flight.add(process)
        readers = [
            threading.Thread(target=_read_events, args=(process.stdout, events), daemon=True),
            threading.Thread(target=_read_lines, args=(process.stderr, stderr_tail), daemon=True),
        ]
        for reader in readers:
            reader.start()
        assert process.stdin is not None
        try:
            # The request, and then nothing: stdin stays open until the worker has exited,
            # and its end tells the worker's guardian that this coordinator is gone.
            process.stdin.write(worker_request(cell, task=task, artifacts=artifacts,
                                               process=replicate) + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            pass  # the worker died at once; its exit code and stderr say why

        result: dict[str, Any] | None = None
        result_at = started
        output_closed = exited = False
        limit = started + cell.timeout_seconds
        try:
            while (remaining := limit - time.monotonic()) > 0:
                try:
                    event = events.get(timeout=min(0.5, remaining))
                except queue.Empty:
                    continue
                if event is None:  # stdout closed: the worker is exiting (or should be)
                    output_closed = True
                    limit = min(limit, time.monotonic() + self._exit_grace)
                    break
                if event.get("event") == "result":
                    # Final: what the worker does after it is not part of the cell. It gets a
                    # short grace to exit, not the rest of the timeout.
                    result = event
                    result_at = time.monotonic()
                    limit = min(limit, time.monotonic() + self._exit_grace)
                elif event.get("event") == "progress":
                    on_progress(cell, event)
            try:
                process.wait(timeout=max(0.0, limit - time.monotonic()))
                exited = True
            except subprocess.TimeoutExpired:
                pass
        finally:
            if process.poll() is None:  # time is up, or the coordinator is interrupted
                _kill(process)
                process.wait()
            with self._in_flight_lock:
                self._in_flight.discard(process)
            with contextlib.suppress(OSError):
                process.stdin.close()
            for reader in readers:
                reader.join(timeout=5)

        lingered = {} if exited else {
            "killed_after_result": f"did not exit within {self._exit_grace:g} s of its result"}
        if result is None and not exited:
            if output_closed:
                return outcome(f"worker closed its output without a result and did not exit "
                               f"within {self._exit_grace:g} s")
            return outcome(f"timed out after {cell.timeout_seconds:g} s")
        if result is None:
            last = _last_line("".join(stderr_tail))
            reason = f"worker {_describe_exit(process.wait())} before reporting a result"
            return outcome(f"{reason}: {last}" if last else reason)
        if result.get("status") == UNSUPPORTED:
            return outcome(str(result.get("error") or "(no reason given)"), details=lingered,
                           status=UNSUPPORTED)
        if result.get("status") != OK:
            return outcome(str(result.get("error", "unknown worker error")),
                           details={"traceback": result.get("traceback", ""), **lingered})
        if (problem := _not_a_measurement(result)) is not None:
            return outcome(f"the worker reported {problem}: not a measurement, so the cell "
                           "stores none", details=lingered)
        if isinstance(process, ForkedWorker):
            return outcome(None, payload=with_fork_server(
                with_start_and_exit(result, spawned, result_at), server_seconds),
                details=lingered)
        return outcome(None, payload=with_start_and_exit(result, started, result_at),
                       details=lingered)

    def _forked(self, cell: CellSpec, framework: FrameworkInfo, interpreter: str,
                replicate: int, scratch: str
                ) -> tuple[ForkedWorker | None, float, float, str | None]:
        """A worker forked from the round's fork server of this framework (started here if
        it is the round's first cell of it), the seconds the server's start took now (0 when
        it was running), when the fork was asked for, and (no worker) why there is no server:
        the cell then starts afresh."""
        environment = worker_environment(cell.threads, os.environ, framework=framework)
        key = (interpreter, cell.framework, tuple(sorted(environment.items())))
        if key in self._unavailable:
            return None, 0.0, 0.0, self._unavailable[key]
        for other, running in list(self._servers.items()):
            if running.round != replicate or not running.alive():
                self._servers.pop(other).close()  # another round's, or one that died
        seconds = 0.0
        if (server := self._servers.get(key)) is None:
            try:
                server = ForkServer(interpreter, cell.framework, cell.device, cell.threads,
                                    environment, round_index=replicate,
                                    timeout_seconds=cell.timeout_seconds)
            except ForkServerUnavailable as why:
                self._unavailable[key] = str(why)
                return None, 0.0, 0.0, str(why)
            self._servers[key] = server
            seconds = server.start_seconds
        spawned = time.monotonic()
        try:
            return (server.spawn(compiler_caches(framework, scratch), cell.timeout_seconds),
                    seconds, spawned, None)
        except ForkServerUnavailable as why:
            self._servers.pop(key).close()
            self._unavailable[key] = str(why)
            return None, 0.0, 0.0, str(why)


def with_fork_server(result: dict[str, Any], seconds: float) -> dict[str, Any]:
    """A forked worker's result with the fork server's own start, when this worker's cell
    paid for it, as a phase of its own."""
    if not isinstance(phases := result.get("phases"), dict) or seconds <= 0:
        return result
    return {**result, "phases": {"fork_server": seconds, **phases}}


def with_start_and_exit(result: dict[str, Any], started: float, result_at: float
                        ) -> dict[str, Any]:
    """The worker's phases with what only this side sees: `start` (from starting the process
    to the worker's first line of its own: the interpreter's start and dlarena's imports) and
    `exit` (from its result to its end). Both clocks are the machine's monotonic clock."""
    phases = result.get("phases")
    entered = result.get("entered_monotonic")
    if not isinstance(phases, dict) or not isinstance(entered, int | float):
        return result
    start = float(entered) - started
    exit_seconds = time.monotonic() - result_at
    if not 0 <= start <= result_at - started:  # another machine's clock, or none
        return result
    return {**result, "phases": {"start": start, **phases, "exit": exit_seconds}}


def _not_a_measurement(result: dict[str, Any]) -> str | None:
    """The first timed window, sample or metric that no store could keep: a number that is
    not finite (a worker's JSON may say NaN), a timed window of no time. None when all are."""
    named = [(f"{name}[{index}]", window, least)
             for name, least in (("warmup", 0.0), ("windows", math.ulp(0.0)))
             for index, window in enumerate(result.get(name, []))]
    for where, window, least in named:
        try:
            steps, seconds = window
            if not (steps >= 1 and math.isfinite(seconds) and seconds >= least):
                return f"{where} = {window}"
        except (TypeError, ValueError):
            return f"{where} = {window!r}"
    values = [(f"samples.{name}[{index}]", value)
              for name, series in result.get("samples", {}).items()
              for index, value in enumerate(series)]
    values += [(f"metrics.{name}", value) for name, value in result.get("metrics", {}).items()]
    for where, value in values:
        if not isinstance(value, int | float) or not math.isfinite(value):
            return f"{where} = {value!r}"
    return None


def _kill(process: subprocess.Popen[str] | ForkedWorker) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _read_events(stream: IO[str] | None, events: queue.Queue[dict[str, Any] | None]) -> None:
    assert stream is not None
    for line in stream:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # not ours; the worker keeps fd 1 for the protocol only
        if isinstance(event, dict):
            events.put(event)
    events.put(None)


def _read_lines(stream: IO[str] | None, tail: deque[str]) -> None:
    assert stream is not None
    for line in stream:
        tail.append(line)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""

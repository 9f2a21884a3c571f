"""The worker process protocol, with the fake framework through a real subprocess: a fresh
one, or one forked from a fork server (executors/forkserver.py), which must behave alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from dlarena.cell import ThreadSettings
from dlarena.contract import FrameworkInfo
from dlarena.executors.local import FORKED, LocalExecutor, worker_environment
from tests.conftest import fake_cell, processes_marked, wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("no_fault")


HOW = ("fresh", "forked")


def executor(how: str = "fresh", interpreters: dict[str, str] | None = None,
             **options: float) -> LocalExecutor:
    forked = ("train", "infer", "latency") if how == "forked" else ()
    return LocalExecutor(interpreters, forked_scenarios=forked, **options)


def run(cell=None, how: str = "fresh"):  # type: ignore[no-untyped-def]
    events = []
    measuring = executor(how)
    try:
        outcome = measuring.run(cell or fake_cell(), lambda _cell, event: events.append(event))
    finally:
        measuring.close()
    if how == "forked":
        assert outcome.details.get("process") == FORKED, outcome
    return outcome, events


@pytest.mark.parametrize("how", HOW)
def test_ok_cell_reports_windows_metrics_and_progress(how: str) -> None:
    outcome, events = run(how=how)
    assert outcome.status == "ok", outcome.error
    payload = outcome.payload
    assert len(payload["windows"]) == 3
    # Calibrated once, so every window runs the same steps; a window lasts about the
    # calibrated 0.01 s, but the machine may be faster by the time it is timed.
    assert len({steps for steps, _ in payload["windows"]}) == 1
    assert all(steps > 0 and seconds > 0 for steps, seconds in payload["windows"])
    assert payload["metrics"]["peak_rss_bytes"] > 10 * 2**20
    assert payload["metrics"]["trainable_parameters"] == 109386
    assert {e["phase"] for e in events} >= {"import", "build", "first_step", "measure"}


def test_worker_gets_the_cells_threads_in_its_environment() -> None:
    env = worker_environment(fake_cell().threads, {"OMP_NUM_THREADS": "64", "PYTHONPATH": "/x"})
    assert env["OMP_NUM_THREADS"] == "1"
    assert env["PYTHONPATH"].endswith("/x")


def test_a_framework_info_adds_its_thread_cache_and_quiet_variables() -> None:
    info = FrameworkInfo(
        name="demo", description="", distributions=(), pip_requirement="demo",
        modes=("eager",), eager_mode="eager", intra_op_variables=("DEMO_INTRA",),
        inter_op_variables=("DEMO_INTER",), cache_variables={"DEMO_CACHE": "demo-cache"},
        quiet_variables={"DEMO_LOG": "2", "DEMO_KEPT": "0"},
    )
    env = worker_environment(ThreadSettings(3, 2), {"DEMO_KEPT": "9"}, framework=info,
                             scratch="/scratch")
    assert (env["DEMO_INTRA"], env["DEMO_INTER"]) == ("3", "2")
    assert env["DEMO_CACHE"] == "/scratch/demo-cache"
    assert env["DEMO_LOG"] == "2"
    assert env["DEMO_KEPT"] == "9"  # the user's setting wins over the framework's default
    assert "DEMO_CACHE" not in worker_environment(ThreadSettings(1, 1), {}, framework=info)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(("fault", "message"), [
    ("abort", "worker killed by SIGABRT before reporting a result"),
    ("exit", "worker exited with code 3 before reporting a result"),
    ("raise", "RuntimeError: injected fault in mlp/train"),
])
def test_a_failing_worker_is_an_error_outcome(
    monkeypatch: pytest.MonkeyPatch, fault: str, message: str, how: str
) -> None:
    monkeypatch.setenv("DLARENA_FAKE_FAULT", fault)
    outcome, _ = run(how=how)
    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error.startswith(message)


@pytest.mark.parametrize("how", HOW)
def test_a_hanging_worker_is_killed_at_its_timeout(monkeypatch: pytest.MonkeyPatch,
                                                   how: str) -> None:
    monkeypatch.setenv("DLARENA_FAKE_FAULT", "hang")
    outcome, _ = run(fake_cell(timeout_seconds=2.0), how=how)
    assert outcome.status == "error"
    assert outcome.error == "timed out after 2 s"
    assert outcome.wall_seconds < 10


@pytest.mark.parametrize("how", HOW)
def test_cancel_kills_a_worker_in_flight_from_another_thread(
        monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """A run interrupted in one thread stops the workers other threads supervise (the
    same-model checks run two at once)."""
    monkeypatch.setenv("DLARENA_FAKE_FAULT", "hang")
    measuring = executor(how)
    outcomes = []
    progressed = threading.Event()
    runner = threading.Thread(target=lambda: outcomes.append(measuring.run(
        fake_cell(timeout_seconds=600.0), lambda *_: progressed.set())))
    try:
        runner.start()
        assert progressed.wait(120), "the worker never reported progress"
        measuring.cancel()
        runner.join(60)
        assert not runner.is_alive(), "cancel did not end the worker"
    finally:
        measuring.close()
    [outcome] = outcomes
    assert outcome.status == "error" and "SIGKILL" in (outcome.error or ""), outcome.error


def test_a_missing_interpreter_is_an_error_outcome_not_a_crash() -> None:
    outcome = LocalExecutor({"fake": "/nonexistent/python"}).run(fake_cell(), lambda *_: None)
    assert outcome.status == "error"
    assert "/nonexistent/python" in (outcome.error or "")


def test_faults_target_one_workload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLARENA_FAKE_FAULT", "raise:cnn")
    assert run(fake_cell(workload="mlp"))[0].status == "ok"
    assert run(fake_cell(workload="cnn"))[0].status == "error"


def test_a_worker_that_lingers_after_its_result_keeps_it(tmp_path: Path) -> None:
    """A finished result is kept: a worker that does not exit (here an interpreter wrapper
    that sleeps after Python has ended) is killed after a short grace, not recorded as failed
    after the whole timeout."""
    script = tmp_path / "lingering-python"
    script.write_text(f'#!/bin/sh\n"{sys.executable}" "$@"\nsleep 3600\n')
    script.chmod(0o755)
    outcome = LocalExecutor({"fake": str(script)}, exit_grace_seconds=0.5).run(
        fake_cell(timeout_seconds=30.0), lambda *_: None)
    assert outcome.status == "ok", outcome.error
    assert len(outcome.payload["windows"]) == 3
    assert outcome.details["killed_after_result"] == "did not exit within 0.5 s of its result"
    assert outcome.wall_seconds < 15


@pytest.fixture
def wrapper(tmp_path: Path) -> str:
    """An interpreter as `--python` may name one: a script that runs Python without `exec`,
    so the worker is the wrapper's child, not the coordinator's."""
    script = tmp_path / "python-wrapper"
    script.write_text(f'#!/bin/sh\n"{sys.executable}" "$@"\n')
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("how", HOW)
def test_a_worker_behind_a_wrapper_script_runs(wrapper: str, how: str) -> None:
    measuring = executor(how, {"fake": wrapper})
    outcome = measuring.run(fake_cell(), lambda *_: None)
    measuring.close()
    assert outcome.status == "ok", outcome.error


COORDINATOR = """
import sys
from dlarena.executors.local import LocalExecutor
from tests.conftest import fake_cell
LocalExecutor({"fake": sys.argv[1]}, forked_scenarios=sys.argv[2:]).run(
    fake_cell(timeout_seconds=600.0), lambda _cell, event: print(event["phase"], flush=True))
"""


@pytest.mark.parametrize(("fault", "signal_", "wrapped", "how"), [
    ("hang", signal.SIGKILL, False, "fresh"),
    ("spawn-hang", signal.SIGKILL, False, "fresh"),
    ("hang", signal.SIGTERM, False, "fresh"),
    ("spawn-hang", signal.SIGTERM, False, "fresh"),
    ("spawn-hang", signal.SIGKILL, True, "fresh"),
    ("hang", signal.SIGKILL, False, "forked"),
    ("spawn-hang", signal.SIGKILL, False, "forked"),
    ("spawn-hang", signal.SIGTERM, False, "forked"),
    ("spawn-hang", signal.SIGKILL, True, "forked"),
])
def test_workers_and_their_children_die_with_their_coordinator(
    fault: str, signal_: signal.Signals, wrapped: bool, how: str, wrapper: str
) -> None:
    marker = str(uuid.uuid4())
    env = {**os.environ, "DLARENA_FAKE_FAULT": fault, "DLARENA_TEST_MARKER": marker}
    interpreter = wrapper if wrapped else sys.executable
    forked = ["train"] if how == "forked" else []
    coordinator = subprocess.Popen([sys.executable, "-c", COORDINATOR, interpreter, *forked],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
    try:
        assert coordinator.stdout is not None
        for line in coordinator.stdout:
            if line.strip() == "build":  # the fault strikes in the build
                break
        hanging = "time.sleep(3600)" if fault == "spawn-hang" else "dlarena.worker"
        assert wait_for(lambda: any(hanging in command
                                    for command in processes_marked(marker).values()), 30)
        time.sleep(0.5)  # in the hang now, writing nothing a dead coordinator would refuse
        coordinator.send_signal(signal_)
        coordinator.wait(timeout=10)
        left = wait_for(lambda: not processes_marked(marker), 5) or processes_marked(marker)
        assert left is True, f"orphaned: {left}"
    finally:
        for pid in processes_marked(marker):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", HOW)
def test_a_finished_worker_leaves_no_process_behind(monkeypatch: pytest.MonkeyPatch,
                                                    how: str) -> None:
    marker = str(uuid.uuid4())
    monkeypatch.setenv("DLARENA_TEST_MARKER", marker)
    assert run(how=how)[0].status == "ok"  # closed: its fork server is gone too
    assert wait_for(lambda: not processes_marked(marker), 5), processes_marked(marker)

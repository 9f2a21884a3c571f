"""The private Ray cluster (no --address): nothing of it listens outside loopback, and nothing
of it outlives its run however the run ends (closed, SIGKILL, an early Ctrl-C); its scratch
folder is private and removed. An --address that nothing answers at is refused in seconds."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlarena.cli.main import main
from dlarena.executors import ray_private
from tests.conftest import fake_cell, processes_marked, require, wait_for

pytestmark = pytest.mark.usefixtures("no_fault")

SOURCE = str(Path(__file__).resolve().parents[2] / "src")
# A coordinator of its own: starts a private cluster, says so, then measures until killed.
COORDINATOR = """
import os, sys, time
from dlarena.executors.ray import RayExecutor
executor = RayExecutor()
print("ready", executor._host.scratch, flush=True)
time.sleep(600)
"""


@pytest.fixture
def marker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """In the environment of every process of the cluster: to find survivors."""
    require("ray")
    value = f"dlarena-private-ray-{secrets.token_hex(6)}"
    monkeypatch.setenv("DLARENA_RAY_TEST", value)
    yield value
    for pid in processes_marked(value):  # whatever a failed test left: by pid, never by name
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def listening() -> set[tuple[str, int]]:
    """(address, inode) of every listening TCP socket this machine's network shows."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as file:
            for line in file.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    found.add((fields[1], int(fields[9])))
    return found


def socket_inodes(pids: list[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
        except OSError:
            continue
    return inodes


def test_the_private_cluster_listens_nowhere_the_machine_sees_and_leaves_nothing(
        marker: str) -> None:
    from dlarena.executors.ray import RayExecutor

    executor = RayExecutor()
    try:
        scratch = executor._host.scratch  # type: ignore[union-attr]
        assert os.stat(scratch).st_mode & 0o777 == 0o700
        cluster = list(processes_marked(marker))
        assert any("raylet" in command for command in processes_marked(marker).values())
        # Not one socket of the cluster's processes is in this machine's listening table
        # (which does show a socket of this process's own).
        with socket.create_server(("127.0.0.1", 0)) as control:
            table = {inode for _, inode in listening()}
            assert table & socket_inodes([os.getpid()]) == {os.fstat(control.fileno()).st_ino}
        assert not table & socket_inodes(cluster)
        outcome = executor.run(fake_cell(), lambda _cell, _event: None)
        assert outcome.status == "ok" and outcome.details["executor"] == "ray"
    finally:
        executor.close()
    assert wait_for(lambda: not processes_marked(marker), 10), processes_marked(marker)
    assert not os.path.exists(scratch)


def start_coordinator(marker: str) -> tuple[subprocess.Popen[str], str]:
    coordinator = subprocess.Popen(
        [sys.executable, "-c", COORDINATOR], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": SOURCE, "DLARENA_RAY_TEST": marker})
    assert coordinator.stdout is not None
    words = coordinator.stdout.readline().split()
    assert words and words[0] == "ready", words
    return coordinator, words[1]


def test_nothing_of_the_cluster_outlives_a_killed_coordinator(marker: str) -> None:
    coordinator, scratch = start_coordinator(marker)
    assert any("raylet" in command for command in processes_marked(marker).values())
    started = time.monotonic()
    coordinator.kill()
    coordinator.wait()
    assert wait_for(lambda: not processes_marked(marker), 15), processes_marked(marker)
    assert time.monotonic() - started < 15
    assert wait_for(lambda: not os.path.exists(scratch), 5)


def test_an_early_ctrl_c_leaves_nothing(marker: str) -> None:
    # SIGINT at its default in the coordinator: a shell starts a backgrounded test run with
    # SIGINT ignored, and Python passes that on (FACTS.md), so Ctrl-C would not reach it.
    coordinator = subprocess.Popen(
        [sys.executable, "-c", COORDINATOR], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": SOURCE, "DLARENA_RAY_TEST": marker},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert wait_for(lambda: any("gcs_server" in command
                                for command in processes_marked(marker).values()), 60)
    coordinator.send_signal(signal.SIGINT)  # while Ray is still starting
    _, stderr = coordinator.communicate(timeout=60)
    assert coordinator.returncode != 0 and "KeyboardInterrupt" in stderr
    assert wait_for(lambda: not processes_marked(marker), 15), processes_marked(marker)
    assert not [entry for entry in os.listdir("/tmp")
                if entry.startswith(f"rdl-{coordinator.pid}-")]


def test_a_scratch_folder_of_a_dead_coordinator_is_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"rdl-{dead.pid}-abc" / "r").mkdir(parents=True)
    (tmp_path / f"rdl-{os.getpid()}-abc").mkdir()  # alive: kept
    (tmp_path / "rdl-notapid").mkdir()
    assert ray_private.remove_stale_scratch(str(tmp_path)) == [
        str(tmp_path / f"rdl-{dead.pid}-abc")]
    assert sorted(os.listdir(tmp_path)) == sorted([f"rdl-{os.getpid()}-abc", "rdl-notapid"])


@pytest.mark.parametrize("address", ["127.0.0.1:1", "127.0.0.1:99999", "[::1]:1"])
def test_an_address_nothing_answers_at_is_refused_in_seconds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str) -> None:
    require("ray")
    started = time.monotonic()
    code = main(["run", "--suite", "smoke", "--frameworks", "fake", "--executor", "ray",
                 "--address", address, "--db", str(tmp_path / "r.db")])
    assert code == 2 and time.monotonic() - started < 10
    error = capsys.readouterr().err
    assert f"nothing answers at --address {address}" in error and error.count("\n") == 1
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize(("reply", "message"), [
    (None, "nothing answers at --address"),  # accepts, then says nothing
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "answers, but not as a Ray cluster's head"),
])
def test_an_address_that_is_not_a_ray_head_is_refused_in_seconds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], reply: bytes | None,
        message: str) -> None:
    require("ray")
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            connection, _ = server.accept()
            with connection:
                if reply is not None:
                    connection.sendall(reply)
                time.sleep(10)

    threading.Thread(target=answer, daemon=True).start()
    started = time.monotonic()
    try:
        code = main(["run", "--suite", "smoke", "--frameworks", "fake", "--executor", "ray",
                     "--address", f"127.0.0.1:{server.getsockname()[1]}",
                     "--db", str(tmp_path / "r.db")])
    finally:
        server.close()
    assert code == 2 and time.monotonic() - started < 10
    assert message in capsys.readouterr().err

"""The coordinator's side of a fork server (worker/forkserver.py): a process that imported
one framework, from which each cell's worker is forked instead of started afresh.

`ForkServer.spawn` returns a `ForkedWorker`, which the local executor supervises exactly
as it does a fresh `subprocess.Popen` worker: the same pipes and protocol, a process group
of its own to kill, an exit code (reported by the server, the worker's parent).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from typing import IO, Any

from dlarena.cell import FORKSERVER_FD_VARIABLE, FORKSERVER_MESSAGE_BYTES, ThreadSettings

# How long a fork server may take to exit once its socket is closed.
CLOSE_GRACE_SECONDS = 10.0


class ForkServerUnavailable(RuntimeError):
    """No fork server for this framework: it failed to start or has no `preload`. Its cells
    run in fresh processes, which report any real failure (a framework that cannot be
    imported) as the cell's own error."""


class ForkServer:
    """One framework imported once, in its own interpreter, for one round's cells."""

    def __init__(self, interpreter: str, framework: str, device: str, threads: ThreadSettings,
                 environment: Mapping[str, str], *, round_index: int,
                 timeout_seconds: float) -> None:
        self.round = round_index
        started = time.monotonic()
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 -- closed in close()
        try:
            self._process = subprocess.Popen(
                [interpreter, "-m", "dlarena.worker.forkserver", framework, device,
                 str(threads.intra_op), str(threads.inter_op)],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                env={**environment, FORKSERVER_FD_VARIABLE: str(theirs.fileno())},
                pass_fds=(theirs.fileno(),), start_new_session=True,
            )
        except OSError as error:
            self.close()
            raise ForkServerUnavailable(f"cannot start {interpreter}: {error}") from error
        finally:
            theirs.close()
        ready = self._receive(timeout_seconds)
        if not ready.get("ready"):
            why = (f"{framework} has no preload step" if ready.get("ready") is False
                   else f"the fork server of {framework} did not start: {self._tail()}")
            self.close()
            raise ForkServerUnavailable(why)
        self.start_seconds = time.monotonic() - started

    def spawn(self, environment: Mapping[str, str], timeout_seconds: float) -> ForkedWorker:
        """A new worker forked from the server, with `environment` added to the server's."""
        child_stdin, stdin = os.pipe()
        stdout, child_stdout = os.pipe()
        stderr, child_stderr = os.pipe()
        theirs = (child_stdin, child_stdout, child_stderr)
        try:
            socket.send_fds(self._control, [json.dumps({"environment": dict(environment)})
                                            .encode()], list(theirs))
        except OSError as error:
            for fd in (*theirs, stdin, stdout, stderr):
                os.close(fd)
            raise ForkServerUnavailable(f"the fork server is gone: {error}") from error
        for fd in theirs:
            os.close(fd)
        worker = ForkedWorker(self._control, os.fdopen(stdin, "w"), os.fdopen(stdout),
                              os.fdopen(stderr))
        started = self._receive(timeout_seconds)
        if "pid" not in started:
            worker.close_pipes()
            raise ForkServerUnavailable(f"the forked worker did not start: {started}")
        worker.pid = int(started["pid"])
        return worker

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        """Close the socket (the server exits at its end); kill it if it does not."""
        self._control.close()
        process = getattr(self, "_process", None)
        if process is not None:
            try:
                process.wait(timeout=CLOSE_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log.close()

    def _receive(self, timeout_seconds: float) -> dict[str, Any]:
        try:
            message = receive(self._control, timeout_seconds)
        except EOFError:
            return {}
        return {} if message is None else message

    def _tail(self) -> str:
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().splitlines() if line.strip()]
        return lines[-1] if lines else "(it wrote nothing)"


def receive(control: socket.socket, timeout_seconds: float) -> dict[str, Any] | None:
    """The next message, or None when none came in time; EOFError when the socket ended
    (the server is gone)."""
    ready, _, _ = select.select([control], [], [], max(0.0, timeout_seconds))
    if not ready:
        return None
    try:
        data = control.recv(FORKSERVER_MESSAGE_BYTES)
    except OSError:
        data = b""
    if not data:
        raise EOFError("the fork server's socket ended")
    found = json.loads(data)
    return found if isinstance(found, dict) else {}


class ForkedWorker:
    """What the local executor needs of a worker process (subprocess.Popen's names): its
    pipes, pid (it leads its own process group), poll, wait and returncode."""

    def __init__(self, control: socket.socket, stdin: IO[str], stdout: IO[str],
                 stderr: IO[str]) -> None:
        self._control = control
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.pid = 0
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._await_exit(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._await_exit(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
        return self.returncode

    def _await_exit(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left < 0:
                return
            try:
                message = receive(self._control, left)
            except EOFError:  # the server died: so did its workers (their parent-death signal)
                self.returncode = -9
                return
            if message is None:
                return
            if "exit" in message:
                self.returncode = int(message["exit"])

    def close_pipes(self) -> None:
        for stream in (self.stdin, self.stdout, self.stderr):
            stream.close()

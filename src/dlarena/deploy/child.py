"""A child worker process of a deployment cell: a fresh process that loads a saved model,
or the model server. Always ended by the cell (`with Child(...)`), and in any case by the
kernel when the cell's worker dies (the child sets its parent-death signal, see `lifeline`):
nothing outlives its cell."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Any

from dlarena.cell import ERROR, UNSUPPORTED, CellSpec, worker_request
from dlarena.contract import ExportUnsupported

# The `load` child reads its job ({kind, path, inputs, outputs}) from this cell option, and
# builds its model with the weights of seed + OTHER_WEIGHTS_SEED before loading the saved ones.
LOAD_JOB_OPTION = "deploy_load"
OTHER_WEIGHTS_SEED = 1000
# How long a child gets to exit after its stdin closes, before it is killed.
EXIT_GRACE_SECONDS = 5.0
STDERR_TAIL = 2000


class ChildFailed(RuntimeError):
    """The child reported an error, died, or did not answer in time."""


class Child:
    def __init__(self, cell: CellSpec, task: str) -> None:
        self.started = time.perf_counter()
        self._stderr: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dlarena.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.process.stdin is not None
        # The child reads one line, then the open stdin is its lifeline (`serve` waits on it).
        self.process.stdin.write(worker_request(cell, task=task) + "\n")
        self.process.stdin.flush()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self._events.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self._events.put(None)

    def event(self, name: str, timeout: float) -> dict[str, Any]:
        """The next event called `name` (progress events are skipped); a result with an
        error, the child's death or the timeout raise ChildFailed; an unsupported result
        raises ExportUnsupported with the child's reason (the cell's outcome, then)."""
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            try:
                event = self._events.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise ChildFailed(f"no {name!r} from the child within {timeout:g} s") from None
            if event is None:
                self.process.wait()
                raise ChildFailed(f"the child exited with code {self.process.returncode} "
                                  f"before {name!r}: {self.stderr_tail()}")
            if event.get("event") == "result" and event.get("status") == ERROR:
                raise ChildFailed(str(event.get("error")))
            if event.get("event") == "result" and event.get("status") == UNSUPPORTED:
                raise ExportUnsupported(str(event.get("error")))
            if event.get("event") == name:
                return event

    def exit_code(self) -> int | None:
        return self.process.poll()

    def stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-STDERR_TAIL:].strip()

    def close(self) -> None:
        """Close the child's stdin (its signal to stop), then kill it if it lingers."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(EXIT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

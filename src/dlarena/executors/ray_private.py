"""The private Ray cluster: one node on this machine, that nothing outside the run can reach
and that nothing of outlives the run.

Ray cannot be kept on loopback from inside: its GCS, raylet and every worker's gRPC server
listen on all interfaces, and `ray.init` turns a node address of 127.0.0.1 into the
machine's own address. So the cluster runs in namespaces of its own (Linux, util-linux
`unshare`, as for a TensorFlow cell, see `netns`): a network namespace whose only interface
is loopback, so "every interface" is loopback and the machine's `ss -ltn` shows none of its
ports; and a process namespace whose first process is the host (`ray_host`), so that when the
host ends, for any reason, the kernel kills every process of the cluster with it
(`--kill-child` ends the host when `unshare` is killed).

The coordinator talks to the host over its stdin and stdout, one JSON object a line: the
host answers ``{"ready": slots}`` once Ray is up, then runs each ``{"id", "cell",
"replicate"}`` on the cluster and answers ``{"id", "outcome"}``; ``{"cancel": true}`` stops
what is in flight. The end of its stdin (the coordinator closed it, or died) shuts the
cluster down and removes its scratch folder. The scratch folder is private (0700; Ray makes
its own folder inside world-writable), and one left by a host that was killed is removed by
the next private cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from typing import IO, Any

from dlarena.cell import CellSpec
from dlarena.isolation import netns

# How long the host may take to start Ray, and to stop it after its stdin ends.
START_SECONDS = 180.0
STOP_SECONDS = 20.0
SCRATCH_PREFIX = "rdl-"
_SCRATCH = re.compile(rf"{SCRATCH_PREFIX}(\d+)-")


class HostFailed(RuntimeError):
    """The private cluster did not start, or its host ended."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_scratch(folder: str) -> list[str]:
    """Scratch folders of private clusters whose coordinator is gone (killed before it
    could remove them); only this user's. Returns the removed paths."""
    removed = []
    for entry in os.scandir(folder):
        match = _SCRATCH.match(entry.name)
        if (match and entry.is_dir(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid == os.geteuid()
                and not _alive(int(match.group(1)))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


class Host:
    """The coordinator's side: starts the host in its namespaces and runs cells through it."""

    def __init__(self, interpreters: Mapping[str, str], machine: str | None) -> None:
        folder = "/tmp"  # Ray's socket paths must stay short (108 bytes)
        remove_stale_scratch(folder)
        self.scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=folder)
        self._write_lock = threading.Lock()
        self._answers: dict[int, queue.Queue[dict[str, Any] | None]] = {}
        self._answers_lock = threading.Lock()
        self._ready: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._next_id = 0
        self._stderr: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close)
        try:
            command = netns.command([sys.executable, "-m", "dlarena.executors.ray_host"],
                                    own_processes=True)
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                text=True, start_new_session=True)
        except (netns.PrivateNetworkUnavailable, OSError) as error:
            self._remove_scratch()
            raise HostFailed(f"a private Ray cluster needs a network namespace of its own: "
                             f"{error}") from None
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self._send({"interpreters": dict(interpreters), "machine": machine,
                        "scratch": self.scratch})
            try:
                ready = self._ready.get(timeout=START_SECONDS)
            except queue.Empty:
                ready = None
            if ready is None or "ready" not in ready:
                reason = (ready or {}).get("error") or f"no answer within {START_SECONDS:g} s"
                raise HostFailed(f"{reason} {self._stderr_tail()}".strip())
            self.slots = int(ready["ready"])
        except BaseException:  # a Ctrl-C while Ray starts leaves nothing either
            self.close(at_once=True)
            raise

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        with self._write_lock:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if "id" in message:
                    with self._answers_lock:
                        answers = self._answers.get(message["id"])
                    if answers is not None:
                        answers.put(message)
                else:
                    self._ready.put(message)
        # The host ended: every cell still waiting learns it now.
        self._ready.put(None)
        with self._answers_lock:
            for answers in self._answers.values():
                answers.put(None)

    def run(self, cell: CellSpec, *, replicate: int, timeout: float) -> dict[str, Any]:
        """The outcome's fields, as the host's executor returned them."""
        answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        with self._answers_lock:
            self._next_id += 1
            number = self._next_id
            self._answers[number] = answers
        try:
            if self.process.poll() is not None:
                raise HostFailed(self._ended())
            self._send({"id": number, "cell": cell.to_json(), "replicate": replicate})
            try:
                answer = answers.get(timeout=timeout)
            except queue.Empty:
                raise HostFailed(f"no answer from the private Ray cluster within "
                                 f"{timeout:g} s") from None
            if answer is None:
                raise HostFailed(self._ended())
            outcome: dict[str, Any] = answer["outcome"]
            return outcome
        finally:
            with self._answers_lock:
                self._answers.pop(number, None)

    def _ended(self) -> str:
        return (f"the private Ray cluster's host ended (code {self.process.poll()}): "
                f"{self._stderr_tail()}")

    def cancel(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._send({"cancel": True})

    def close(self, *, at_once: bool = False) -> None:
        """End the host (its stdin), then kill it if it lingers, or `at_once` (a cluster
        still starting has nothing to stop gracefully): with it goes every process of the
        cluster (its process namespace)."""
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(0 if at_once else STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait()
        self._remove_scratch()
        self._stderr.close()

    def _remove_scratch(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _stderr_tail(self) -> str:
        with contextlib.suppress(ValueError, OSError):
            self._stderr.seek(0)
            return " ".join(self._stderr.read()[-1000:].split())
        return ""

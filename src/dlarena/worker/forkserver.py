"""`python -m dlarena.worker.forkserver`: import one framework once, then fork a worker
process per cell from this pre-imported state (the coordinator's side: executors/forkserver.py).

Why: a worker process pays its interpreter's start and its framework's import (0.8 s for
torch, 2.6 s for TensorFlow on a quiet 2-core machine) before the cell's own work begins,
and a run starts a process per cell per round. The coordinator starts one fork server per
framework per round; each cell of that round is still a process of its own (its own
model, thread pools, compiler, memory peak, process group and timeout), forked after the
import and before anything that starts a thread or a device (`Runtime.preload`).

The protocol, on the AF_UNIX SOCK_SEQPACKET socket inherited as CONTROL_FD (one JSON object
per message):
- the server sends {"ready": true|false, "pid": N} once the framework is imported (false:
  the framework has no `preload`; the server then exits);
- the coordinator sends {"environment": {...}} with three descriptors, the new worker's
  stdin, stdout and stderr; the forked worker sends {"pid": N} once it leads a session of
  its own (so the coordinator can kill its group), then reads its request on stdin exactly
  as `python -m dlarena.worker` does (worker/main.py);
- when that worker has exited, the server sends {"exit": code} (negative: killed by that
  signal), and waits for the next;
- the end of the socket (the coordinator closed it or died) ends the server.
Standard library only besides the framework: it runs in the framework's interpreter.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

from dlarena import registry
from dlarena.cell import (
    FORKED_VARIABLE,
    FORKSERVER_FD_VARIABLE,
    FORKSERVER_MESSAGE_BYTES,
    ThreadSettings,
)
from dlarena.isolation import lifeline

STDIO = 3  # stdin, stdout, stderr


def send(control: socket.socket, **message: Any) -> None:
    control.send(json.dumps(message).encode())


def serve(control: socket.socket) -> None:
    """Fork a worker for each request until the socket ends."""
    while True:
        data, fds, _, _ = socket.recv_fds(control, FORKSERVER_MESSAGE_BYTES, STDIO)
        if not data:
            return
        request = json.loads(data)
        if len(fds) != STDIO:
            for fd in fds:
                os.close(fd)
            send(control, exit=-1, error=f"expected {STDIO} descriptors, got {len(fds)}")
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_worker(control, fds, request.get("environment", {}))
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        try:
            send(control, exit=os.waitstatus_to_exitcode(status))
        except OSError:
            return  # the coordinator is gone (its worker's guardian has ended the worker)


def _become_worker(control: socket.socket, fds: list[int], environment: dict[str, str]
                   ) -> None:
    """In the forked process: a session of its own, the worker's pipes as its standard
    streams, then worker/main.py as in a fresh process. Never returns."""
    code = 1
    try:
        os.setsid()  # its own process group, which the coordinator kills as a whole
        send(control, pid=os.getpid())
        control.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.update(environment)
        os.environ[FORKED_VARIABLE] = "1"
        from dlarena.worker.main import main

        code = main()
    finally:
        lifeline.exit_now(code)


def run() -> int:
    lifeline.die_with_parent()
    control = socket.socket(fileno=int(os.environ.pop(FORKSERVER_FD_VARIABLE)))
    framework, device, intra_op, inter_op = sys.argv[1:5]
    threads = ThreadSettings(int(intra_op), int(inter_op))
    ready = registry.runtime_class(framework).preload(threads=threads, device=device)
    if ready:
        # What every forked worker imports next: its own code, before the first fork.
        import dlarena.worker.main
        import dlarena.worker.runners  # noqa: F401
    send(control, ready=ready, pid=os.getpid())
    if ready:
        serve(control)
    return 0


if __name__ == "__main__":
    lifeline.exit_now(run())

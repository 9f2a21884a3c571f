"""A process the coordinator starts (a worker, a peak probe) dies with the coordinator.

The coordinator puts its pid in COORDINATOR_VARIABLE and starts a worker in a session of its
own, so that it can kill the worker's whole process group; that also means nothing kills the
worker when the coordinator itself dies (SIGKILL, a crash): it would be re-parented and live
on. Two guards, each covering what the other cannot:

- `die_with_parent`: Linux's `prctl(PR_SET_PDEATHSIG, SIGKILL)`, so the kernel kills this
  process when its parent dies, even while it is stuck in C code. The signal follows the
  *thread* that started the process: start workers from a thread that outlives them.
- `guard_process_group`: a small guardian process in the worker's group waits for the end of
  the worker's stdin, which the coordinator holds open until the worker has exited. The end
  comes when the coordinator closes it or dies; the guardian then kills the whole group: the
  worker and every child it started (a framework's compiler processes), which the kernel's
  death signal would leave behind, and itself.

Standard library only: a worker may run in another interpreter than the coordinator.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

COORDINATOR_VARIABLE = "DLARENA_COORDINATOR_PID"
_PR_SET_PDEATHSIG = 1
_SIGKILL = 9

_GUARDIAN = """
import os
try:
    while os.read(0, 65536):
        pass
except OSError:
    pass
os.killpg(os.getpgid(0), 9)
"""


def _coordinator() -> int | None:
    value = os.environ.get(COORDINATOR_VARIABLE, "")
    return int(value) if value.isdigit() else None


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies; exit now if the coordinator
    already has. The parent is the coordinator, or a wrapper script `--python` named that
    runs the interpreter without `exec` (then the guardian covers the coordinator's death).
    Nothing to do for a process that no coordinator started."""
    coordinator = _coordinator()
    if coordinator is None:
        return
    set_parent_death_signal()
    if os.getppid() != coordinator and not _alive(coordinator):
        os._exit(1)  # it died before the death signal was set


def set_parent_death_signal() -> None:
    """Linux: the kernel sends this process SIGKILL when its parent (the thread that
    started it) ends; elsewhere nothing."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's: our coordinator's pid was reused
        return True
    return True


def guard_process_group() -> None:
    """Start the guardian of this process's group: the group of the session the coordinator
    created for the worker (this process leads it, or a wrapper script does). Never in a
    group that is not a session's own, such as a shell's pipeline."""
    if _coordinator() is None or os.getpgid(0) != os.getsid(0):
        return
    subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _GUARDIAN],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # never hold the worker's pipes
    )


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown, once a process's result is sent: a
    framework's teardown takes seconds (TensorFlow ~2 s here) that would hold up the next
    cell, and can abort (torch's gloo: "terminate called without an active exception")."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

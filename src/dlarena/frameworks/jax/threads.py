"""XLA's CPU threads, for every framework that runs on JAX (JAX itself, Keras on JAX).

XLA:CPU has no thread-count setting: it sizes its pools from the CPUs the process may run on
(flags such as TensorFlow's `intra_op_parallelism_threads` are not XLA's and change nothing).
The one exact limit is CPU affinity, set before JAX is imported when a cell asks for fewer
threads than the process may use; `--xla_cpu_multi_thread_eigen` is switched off for one
thread. There is no inter-op setting: XLA runs one program's operations from the same pool.
What a process could use is read back from the affinity, not restated from the request.
"""

from __future__ import annotations

import os
from typing import Any

from dlarena.cell import ThreadSettings

_EIGEN_FLAG = "--xla_cpu_multi_thread_eigen"


def xla_flags(existing: str, threads: ThreadSettings) -> str:
    """The user's XLA_FLAGS with the Eigen multi-threading flag set from the thread count."""
    kept = [flag for flag in existing.split() if not flag.startswith(_EIGEN_FLAG)]
    return " ".join([*kept, f"{_EIGEN_FLAG}={'true' if threads.intra_op > 1 else 'false'}"])


def cpus_for(threads: ThreadSettings, allowed: set[int]) -> set[int]:
    """The CPUs a cell with `threads` may run on: the first `intra_op` of those allowed."""
    return set(sorted(allowed)[:threads.intra_op])


def limit(threads: ThreadSettings) -> None:
    """Before JAX is imported: the process's CPUs and XLA's flags for `threads`."""
    allowed = os.sched_getaffinity(0)
    if threads.intra_op < len(allowed):
        os.sched_setaffinity(0, cpus_for(threads, allowed))
    os.environ["XLA_FLAGS"] = xla_flags(os.environ.get("XLA_FLAGS", ""), threads)


def manifest() -> dict[str, Any]:
    """Read back: the CPUs XLA may use (its pools are sized from them); no inter-op setting
    exists, so the same count is stated for both."""
    cpus = len(os.sched_getaffinity(0))
    return {
        "intra_op_threads": cpus,
        "inter_op_threads": cpus,
        "thread_control": "CPU affinity (XLA has no thread-count API); "
                          "no separate inter-op pool",
        "os_threads": len(os.listdir("/proc/self/task")),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }

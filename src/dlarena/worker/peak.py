"""The machine's float32 matrix-product ceiling, as each library on it reaches it.

`environment.matmul_peaks` (coordinator) runs
`python -m dlarena.worker.peak LIBRARY INTRA INTER DEVICE` per library, with a worker's
environment: this module prints one JSON number, the best GFLOP/s of repeated 2048 x 2048
products in that framework (`numpy` for NumPy's BLAS). Each library runs
in its own process, configured as its cells are (threads, device), so the coordinator never
imports a framework. The ceiling a run reports is the best of them: on a 2-core AMD EPYC,
TensorFlow's product reached 490 GFLOP/s where NumPy reached 250 and PyTorch 215, so one
library's figure would not be a ceiling at all.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from dlarena.cell import ThreadSettings
from dlarena.isolation import lifeline

SIZE = 2048
# How long to repeat products; the test suite shortens it (the best of a second is the figure).
SECONDS = float(os.environ.get("DLARENA_PEAK_SECONDS", "1.0"))


def best_gflops(step: Callable[[], Any], sync: Callable[[Any], None], *, size: int = SIZE,
                seconds: float = SECONDS) -> float:
    """2 size^3 FLOPs over the fastest of repeated synchronised products (after a warm-up)."""
    sync(step())
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == float("inf"):
        start = time.perf_counter()
        sync(step())
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def measure(framework: str, threads: ThreadSettings, device: str) -> float:
    if framework == "numpy":
        import numpy as np

        a, b = (np.random.default_rng(0).random((SIZE, SIZE), dtype=np.float32) for _ in "ab")
        return best_gflops(lambda: a @ b, lambda _: None)
    from dlarena import registry

    runtime = registry.runtime_class(framework)()
    runtime.setup(threads=threads, seed=0, device=device)
    return best_gflops(runtime.matrix_product(SIZE), runtime.sync)


def main(argv: list[str]) -> int:
    lifeline.die_with_parent()
    framework, intra, inter, device = argv[1], int(argv[2]), int(argv[3]), argv[4]
    print(json.dumps(round(measure(framework, ThreadSettings(intra, inter), device), 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

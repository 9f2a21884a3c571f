"""Why JAX's data-parallel mlp scales at 0.01 on the CPU: the cost of Gloo all-reduces.

Two processes on 127.0.0.1 (one CPU each, `taskset` when available), as `train-ddp`'s ranks:
JAX (`jax.distributed`, CPU collectives over Gloo) sums 1, 2 and 7 arrays of 1,000 float32
in one jitted program (XLA makes one variadic all-reduce of them); PyTorch
(`torch.distributed`, Gloo) all-reduces one flat tensor of 1,000 and of 110,000 float32 (what
DistributedDataParallel sends for the mlp's gradients, in one bucket). Prints rank 0's
median milliseconds per call.

    .venv/bin/python bench/allreduce_latency.py [--calls 30]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

SIZES = (1_000, 110_000)
ARRAYS = (1, 2, 7)


def _jax(rank: int, port: int, calls: int) -> None:
    import jax
    import numpy as np

    config: Any = jax.config  # untyped
    config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2,
                               process_id=rank)
    mesh = jax.make_mesh((2,), ("d",))
    sharding: object = jax.sharding
    rows = sharding.NamedSharding(mesh, sharding.PartitionSpec("d"))  # type: ignore[attr-defined]
    whole = sharding.NamedSharding(mesh, sharding.PartitionSpec())  # type: ignore[attr-defined]
    for count in ARRAYS:
        make: Any = jax.make_array_from_process_local_data  # untyped
        arrays = [make(rows, np.ones((1, 1000), "float32")) for _ in range(count)]
        summed = jax.jit(lambda *a: [x.sum(axis=0) for x in a], out_shardings=[whole] * count)
        _report(rank, f"jax: {count} array(s) of 1,000 float32 in one program",
                functools.partial(_jax_call, summed, arrays), calls)


def _jax_call(summed: Any, arrays: list[Any]) -> None:
    import jax

    block: Any = jax.block_until_ready  # untyped
    block(summed(*arrays))


def _torch(rank: int, port: int, calls: int) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        for size in SIZES:
            tensor = torch.ones(size)
            _report(rank, f"torch: one tensor of {size:,} float32",
                    functools.partial(dist.all_reduce, tensor), calls)
    finally:
        dist.destroy_process_group()


def _report(rank: int, what: str, call: Callable[[], object], calls: int) -> None:
    for _ in range(3):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    if rank == 0:
        times.sort()
        print(f"  {what:<52} {times[len(times) // 2] * 1e3:7.2f} ms", flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--library", choices=("jax", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank is not None:
        (_jax if args.library == "jax" else _torch)(args.rank, args.port, args.calls)
        return 0

    print("all-reduce between two processes on 127.0.0.1, median per call")
    pin = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    for library in ("jax", "torch"):
        port = _free_port()
        ranks = [subprocess.Popen(
            [*(["taskset", "-c", str(rank)] if pin else []), sys.executable, __file__,
             "--rank", str(rank), "--port", str(port), "--library", library,
             "--calls", str(args.calls)],
            stdout=None if rank == 0 else subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for rank in (0, 1)]
        try:
            codes = [rank.wait(timeout=300) for rank in ranks]
        finally:
            for rank in ranks:
                if rank.poll() is None:
                    rank.kill()
        if any(codes):
            print(f"  {library}: a rank failed (exit codes {codes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

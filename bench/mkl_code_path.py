"""Is a framework slow here because Intel MKL picked its generic code path on a non-Intel CPU?

MKL chooses its kernels by CPU vendor: on AMD it may run `mkl_blas_def_*` (no AVX) where an
Intel CPU of the same ISA gets `mkl_blas_avx2_*` or `avx512`. PaddlePaddle's wheel ships
MKL-ML and runs its eager convolutions as im2col + MKL SGEMM, so on this AMD VM `perf`
shows 56% of a convolution in `mkl_blas_def_sgemm_inner` (docs/old-frameworks.md).
`MKL_DEBUG_CPU_TYPE=5` makes that MKL take its AVX2 path whatever the vendor.

For each workload, this times the framework's training step (`cpu` size, built as a worker
builds the cell) in fresh processes as shipped and with `MKL_DEBUG_CPU_TYPE=5`, in the
order A B B A, and prints the medians. It diagnoses; dlarena measures frameworks as shipped.

    .venv/bin/python bench/mkl_code_path.py [--framework paddle] [--workloads alexnet,resnet50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from cells import bench_cell, built_step, run_inner, seconds_per_step

from dlarena.cell import CellSpec, MeasureSettings
from dlarena.engine.environment import available_cpus, interpreters

FIX: dict[str, str | None] = {"MKL_DEBUG_CPU_TYPE": "5"}


def inner(cell: CellSpec, steps: int) -> float:
    step, sync = built_step(cell)
    seconds_per_step(step, sync, 3)  # the first step compiles or allocates
    return seconds_per_step(step, sync, steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="paddle")
    parser.add_argument("--workloads", default="alexnet,resnet50")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="A B B A blocks")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(inner(CellSpec.from_json(args.inner), args.steps)))
        return 0


    python = interpreters({}).get(args.framework, sys.executable)
    print(f"{args.framework} training step, cpu size, {available_cpus()} threads, {python}")
    for workload in args.workloads.split(","):
        cell = bench_cell(args.framework, workload, measure=MeasureSettings(
            min_window_seconds=0.2, windows=1, max_warmup_windows=0))
        times: dict[bool, list[float]] = {False: [], True: []}
        for fixed in [False, True, True, False] * args.repeats:
            result, error = run_inner(
                __file__, cell, ["--steps", str(args.steps)], python=python,
                environment=FIX if fixed else dict.fromkeys(FIX))
            if result is None:
                print(f"{workload}: failed: {error[-500:]}")
                return 1
            times[fixed].append(result)
        shipped, fixed_median = (statistics.median(times[key]) for key in (False, True))
        print(f"  {workload:<14} as shipped {shipped * 1e3:8.1f} ms/step   "
              f"MKL_DEBUG_CPU_TYPE=5 {fixed_median * 1e3:8.1f} ms/step   "
              f"{shipped / fixed_median:5.2f}x  ({len(times[False])} processes each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

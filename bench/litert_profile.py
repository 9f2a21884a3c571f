"""Why a LiteRT model is slower than its framework: what the converter made of it.

The `deploy` suite measures each framework's LiteRT model beside the framework (same
process, same threads). TensorFlow's run faster in LiteRT; JAX's (jax2tf with a symbolic
batch, then the same converter) ran 0.03-0.4x as fast as JAX (docs/deploy.md has what this
found). This exports one workload through each framework's
LiteRT path, as the suite does, and prints for each model: its operators by kind, how many
of them LiteRT's default CPU delegate (XNNPACK) takes, and batch-1 latency with the
delegate and with the built-in kernels only. One process, the run's threads.

    .venv/bin/python bench/litert_profile.py [--workload transformer] [--size cpu]
        [--frameworks tensorflow jax]

Nothing else may run on the machine meanwhile (FACTS.md).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
import time
from typing import Any

import numpy as np

from dlarena import registry
from dlarena.cell import TIMED_PRECISION, CellSpec, ThreadSettings
from dlarena.engine.plan import MEASURE_BY_SIZE
from dlarena.worker.parts import build_implementation, setup_runtime

REPEATS = 200


def cell_for(workload: str, framework: str, size: str, threads: int) -> CellSpec:
    spec = registry.workloads()[workload]
    mode = registry.frameworks()[framework].modes[0]
    return CellSpec(workload=workload, framework=framework, mode=mode,
                    scenario="export-litert", size=size, device="cpu",
                    batch_size=spec.sizes[size].batch_size, precision=TIMED_PRECISION,
                    threads=ThreadSettings(threads, threads), measure=MEASURE_BY_SIZE[size])


def operators(path: str) -> collections.Counter[str]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    # The interpreter's operator list has no public accessor; TensorFlow's own
    # `tf.lite.experimental.Analyzer` reads the same.
    return collections.Counter(op["op_name"] for op in interpreter._get_ops_details())


def latency(path: str, single: np.ndarray, threads: int, *, delegate: bool) -> float:
    """Median seconds of REPEATS batch-1 predictions, after 10 unmeasured."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = (OpResolverType.AUTO if delegate
                else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter: Any = Interpreter(model_path=path, num_threads=threads,
                                   experimental_op_resolver_type=resolver)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(single.shape), strict=False)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    data = single.astype(detail["dtype"], copy=False)
    seconds = []
    for repeat in range(10 + REPEATS):
        started = time.perf_counter()
        interpreter.set_tensor(detail["index"], data)
        interpreter.invoke()
        if repeat >= 10:
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="transformer")
    parser.add_argument("--size", default="cpu")
    parser.add_argument("--frameworks", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    for framework in args.frameworks:
        cell = cell_for(args.workload, framework, args.size, args.threads)
        runtime = setup_runtime(cell)
        impl = build_implementation(cell, runtime)
        deployment = registry.deployment_class(framework)(impl)
        workload = registry.workloads()[args.workload]
        batch, _ = workload.synthetic_batch(np.random.default_rng(1), 1, args.size)
        with tempfile.TemporaryDirectory() as folder:
            path = deployment.export("litert", folder, batch)
            found = operators(path)
            print(f"{args.workload} · {framework}: {sum(found.values())} operators, "
                  f"{os.path.getsize(path) / 2**20:.1f} MiB", flush=True)
            for name, count in found.most_common():
                print(f"    {count:4d} {name}")
            single = deployment.portable_inputs(batch)
            with_xnnpack = latency(path, single, args.threads, delegate=True)
            builtin = latency(path, single, args.threads, delegate=False)
            print(f"  batch-1 p50: {1e3 * with_xnnpack:.2f} ms with the default delegate "
                  f"(XNNPACK), {1e3 * builtin:.2f} ms with built-in kernels only", flush=True)


if __name__ == "__main__":
    main()

"""Why a LiteRT model is slower than its framework: what the converter made of it.

The `deploy` suite measures each framework's LiteRT model beside the framework (same
process, same threads). TensorFlow's run faster in LiteRT; JAX's (jax2tf with a symbolic
batch, then the same converter) ran 0.03-0.8x as fast as JAX (docs/deploy.md has what this
found). This exports one workload through each framework's LiteRT path, from the cell the
suite plans (its mode, size, batch and threads), and prints for each model its operators by
kind and its batch-1 latency with LiteRT's default CPU delegate (XNNPACK) and with the
built-in kernels only. One process.

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
from dlarena.cell import CellSpec
from dlarena.engine.plan import Request, build_plan
from dlarena.engine.runner import default_threads
from dlarena.worker.parts import build_implementation, setup_runtime

REPEATS = 200


def cell_for(workload: str, framework: str, size: str) -> CellSpec:
    """The suite's own export-litert cell of `workload` in `framework`."""
    request = Request(suite="deploy", frameworks=[framework], workloads=[workload],
                      scenarios=["export-litert"], size=size)
    return build_plan(request, default_threads())[0].cell


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
    args = parser.parse_args()
    for framework in args.frameworks:
        cell = cell_for(args.workload, framework, args.size)
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
            threads = cell.threads.intra_op
            with_xnnpack = latency(path, single, threads, delegate=True)
            builtin = latency(path, single, threads, delegate=False)
            print(f"  batch-1 p50: {1e3 * with_xnnpack:.2f} ms with the default delegate "
                  f"(XNNPACK), {1e3 * builtin:.2f} ms with built-in kernels only", flush=True)


if __name__ == "__main__":
    main()

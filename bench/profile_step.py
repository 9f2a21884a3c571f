"""Where one training step's time goes, by each framework's own profiler.

For a figure far from expectation (the brief's 3x rule: JAX training MobileNetV2 6-9x slower
than PyTorch here), this script builds the cell exactly as a worker does (threads, seed,
canonical weights, the workload's `cpu` batch), warms it up, times `--steps` steps, then
profiles as many again with the framework's profiler and prints the step time per kind of
layer and direction:
- jax: `jax.profiler.trace` (a Perfetto trace of XLA:CPU's thunks) joined with the compiled
  HLO (`--xla_dump_to`), whose metadata names the Flax module and whether the op is the
  forward (`jvp`) or the backward (`transpose(jvp)`) pass;
- torch: `torch.profiler` with input shapes; a convolution whose weight has one input
  channel per group and several groups is a depthwise one.

    .venv/bin/python bench/profile_step.py --framework jax --workload mobilenet_v2
    .venv/bin/python bench/profile_step.py --framework torch --workload mobilenet_v2

Each framework runs in a child process with a worker's environment (threads, affinity).
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from cells import bench_cell, built_step, run_inner, seconds_per_step

from dlarena.cell import CellSpec

Totals = dict[str, float]


def _jax_kind(op_name: str) -> str:
    """'jit(_train_fn)/transpose(jvp(MobileNetV2))/block4/depthwise/conv_general_dilated'
    -> 'backward depthwise'; module names ending in _bn are batch norm."""
    if op_name.startswith("no module/"):
        return op_name
    direction = ("backward" if "transpose(" in op_name
                 else "forward" if "jvp(" in op_name else "optimizer/other")
    scopes = [part for part in op_name.split("/")[2:-1] if "(" not in part]
    layer = scopes[-1] if scopes else op_name.rsplit("/", 1)[-1]
    layer = "batch norm" if layer.endswith("_bn") else re.sub(r"_?\d+$", "", layer)
    return f"{direction} {layer}"


def _hlo_op_names(paths: list[str]) -> dict[str, str]:
    """HLO instruction name -> the JAX op_name its metadata gives; a fusion without one takes
    the op_name of its fused computation's convolution or dot (else its first op's), or,
    where none has one, "no module/<the computation's root op>" (e.g. a convolution XLA made
    for a gradient)."""
    own: dict[str, str] = {}
    roots: dict[str, str] = {}
    calls: dict[str, str] = {}
    inside: dict[str, str] = {}
    computation = ""
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                header = re.match(r"%?([\w.\-]+) \(.*\) -> .* \{$", line)
                if header:
                    computation = header.group(1)
                    continue
                found = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = (.*)", line)
                if not found:
                    continue
                name, rest = found.groups()
                if line.lstrip().startswith("ROOT ") and computation:
                    kind = re.match(r"\S+ ([\w\-]+)\(", rest)
                    roots[computation] = kind.group(1) if kind else "?"
                op_name = re.search(r'op_name="([^"]+)"', rest)
                called = re.search(r"calls=%?([\w.\-]+)", rest)
                if op_name:
                    own[name] = op_name.group(1)
                    if computation and (computation not in inside
                                        or re.search(r"\b(convolution|dot)\(", rest)):
                        inside[computation] = op_name.group(1)
                elif called:
                    calls[name] = called.group(1)
    for name, computation in calls.items():
        if computation in inside:
            own[name] = inside[computation]
        elif computation in roots:
            own[name] = f"no module/{roots[computation]}"
    return own


def profile_jax(step: Callable[[], Any], sync: Callable[[Any], None], steps: int,
                dump: str) -> Totals:
    import jax

    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            value = None
            for _ in range(steps):
                value = step()
            sync(value)
        [trace] = glob.glob(f"{folder}/**/perfetto_trace.json.gz", recursive=True)
        with gzip.open(trace) as handle:
            document = json.load(handle)
    events = document["traceEvents"] if isinstance(document, dict) else document
    metadata = _hlo_op_names(glob.glob(f"{dump}/*train_fn*cpu_after_optimizations.txt"))
    totals: Totals = collections.defaultdict(float)
    for event in events:
        name = event.get("name", "")
        if event.get("ph") != "X":
            continue
        if name in metadata:
            totals[_jax_kind(metadata[name])] += event.get("dur", 0) / 1e6 / steps
        elif re.fullmatch(r"[\w\-]+\.\d+", name):  # an HLO op the dump names no module for
            kind = name.rsplit(".", 1)[0]
            totals[f"no module ({kind})"] += event.get("dur", 0) / 1e6 / steps
    return totals


def profile_torch(step: Callable[[], Any], sync: Callable[[Any], None], steps: int) -> Totals:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        value = None
        for _ in range(steps):
            value = step()
        sync(value)
    totals: Totals = collections.defaultdict(float)
    for event in prof.key_averages(group_by_input_shape=True):
        name = event.key
        weights = [shape for shape in event.input_shapes or [] if len(shape) == 4]
        if "convolution" in name and weights:
            depthwise = any(shape[1] == 1 and shape[0] > 1 for shape in weights)
            pointwise = any(shape[2:] == [1, 1] for shape in weights)
            name += " depthwise" if depthwise else " 1x1" if pointwise else " kxk"
        totals[name] += event.self_cpu_time_total / 1e6 / steps
    return totals


def inner(cell: CellSpec, steps: int, dump: str) -> dict[str, Any]:
    step, sync = built_step(cell)
    seconds_per_step(step, sync, max(3, steps // 2))  # compile and warm up
    seconds = seconds_per_step(step, sync, steps)
    if cell.framework == "jax":
        totals = profile_jax(step, sync, steps, dump)
    elif cell.framework == "torch":
        totals = profile_torch(step, sync, steps)
    else:
        raise SystemExit(f"no profiler wired for {cell.framework}")
    return {"step_seconds": seconds, "totals": dict(totals)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="jax", choices=("jax", "torch"))
    parser.add_argument("--workload", default="mobilenet_v2")
    parser.add_argument("--size", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.inner:
        print(json.dumps(inner(CellSpec.from_json(args.inner), args.steps, args.dump)))
        return 0

    from dlarena import registry

    info = registry.frameworks()[args.framework]
    cell = bench_cell(args.framework, args.workload, size=args.size)
    with tempfile.TemporaryDirectory(prefix="dlarena-profile-") as dump:
        flags = os.environ.get("XLA_FLAGS")
        result, error = run_inner(
            __file__, cell, ["--steps", str(args.steps), "--dump", dump],
            environment={"XLA_FLAGS": " ".join(filter(None, (
                flags, f"--xla_dump_to={dump}", "--xla_dump_hlo_as_text")))})
    if result is None:
        print(f"failed: {error[-2000:]}")
        return 1
    step_ms = result["step_seconds"] * 1e3
    totals = sorted(result["totals"].items(), key=lambda item: -item[1])
    profiled = sum(seconds for _, seconds in totals) * 1e3
    print(f"{args.workload} train, {args.framework} ({info.default_mode}), batch "
          f"{cell.batch_size}, {cell.threads.intra_op} threads: {step_ms:.1f} ms per step "
          "unprofiled; "
          f"{profiled:.1f} ms per step in the profiler's ops")
    for name, seconds in totals[:args.top]:
        print(f"  {seconds * 1e3:9.1f} ms  {seconds * 1e3 / profiled:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run parity checks: one worker per (workload, framework, mode) collects evidence, then compare.

Used by `dlarena check`, and by `dlarena run` before it gives a speed verdict (results are
cached in the store per implementation version, so a run pays for a check once).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import dlarena
from dlarena import registry
from dlarena.cell import CellSpec, MeasureSettings, ThreadSettings
from dlarena.executors.base import Executor
from dlarena.parity.compare import Evidence, ModelFacts, ParityResult, Side, compare
from dlarena.parity.probe import PROBE_BATCH, PROBE_PRECISION

_SOURCE = Path(dlarena.__file__).resolve().parent
# The probe times nothing; a cell still needs measurement settings to be a cell.
_UNTIMED = MeasureSettings(min_window_seconds=1.0, windows=1, max_warmup_windows=0)


def implementation_version(workload: str, framework: str, framework_version: str) -> str:
    """Changes whenever the code that defines the model or the check changes: the contract,
    the shared workload modules, the workload's own files, the framework's folder, the probe."""
    patterns = ("contract/*.py", "workloads/*.py", f"workloads/{workload}/spec.py",
                *registry.source_patterns(workload, framework),
                "parity/probe.py", "parity/compare.py")
    files = sorted({path for pattern in patterns for path in _SOURCE.glob(pattern)})
    digest = hashlib.sha256(f"{workload}/{framework}/{framework_version}".encode())
    digest.update(registry.source_digest(workload).encode())  # the user's model, if it is one
    for path in files:
        digest.update(str(path.relative_to(_SOURCE)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def pair_version(workload: str, size: str, device: str, first: tuple[str, str, str],
                 second: tuple[str, str, str]) -> str:
    """Cache key of one pair's check: (framework, version, mode) of each side."""
    parts = [workload, size, device,
             implementation_version(workload, first[0], first[1]), first[2],
             implementation_version(workload, second[0], second[1]), second[2]]
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


def layer_order(workload: str, size: str) -> list[str]:
    shapes = registry.workloads()[workload].parameter_shapes(size)
    return list(dict.fromkeys(name.rsplit(".", 1)[0] for name in shapes))


def _fan_in(name: str, shape: tuple[int, ...]) -> int:
    """Products summed into one output value: dense and recurrent kernels are (in, out),
    convolution kernels (out, in, kh, kw); an embedding is a lookup."""
    if len(shape) < 2 or name.endswith(".embeddings"):
        return 0
    return shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))


def model_facts(workload: str, size: str) -> ModelFacts:
    """Forward order, reduction lengths (for the precision audit), BatchNorm momentum."""
    spec = registry.workloads()[workload]
    shapes = spec.parameter_shapes(size)
    order = layer_order(workload, size)
    lengths, total = {}, 0
    for layer in order:
        total += sum(_fan_in(name, shape) for name, shape in shapes.items()
                     if name.rsplit(".", 1)[0] == layer)
        lengths[layer] = total
    return ModelFacts(order, lengths, spec.batch_norm.momentum)


def side(framework: str, mode: str) -> Side:
    info = registry.frameworks()[framework]
    return Side(framework, mode, unbiased_running_variance=info.unbiased_running_variance)


@dataclass(frozen=True)
class WorkloadCheck:
    """Every pair of the variants that implement one workload; none when fewer than two do."""

    workload: str
    variants: tuple[tuple[str, str], ...]
    results: tuple[ParityResult, ...]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)


def check_processes(device: str, threads: ThreadSettings) -> int:
    """How many check processes run at once, on this machine (every executor runs checks
    here: their evidence files are read here). A check times nothing, so on a CPU two
    share its cores (the import, tracing and compiling of one overlap the other's
    arithmetic); on a GPU, one at a time. Each keeps the run's threads: the check audits the
    precision of the timed path, and the path depends on them (PyTorch's MobileNetV2 stem
    gradient in float32 is 164x float32's expected error at 1 thread, within it at 2)."""
    return 2 if device == "cpu" and threads.intra_op >= 2 else 1


def check_workloads(
    workloads: Sequence[str],
    variants: Sequence[tuple[str, str]],
    *,
    size: str,
    device: str,
    threads: ThreadSettings,
    executor: Executor,
    on_workload: Callable[[str, Sequence[str]], None] | None = None,
) -> Iterator[WorkloadCheck]:
    """`dlarena check`: each workload in every (framework, mode) of `variants` that
    implements it."""
    for workload in workloads:
        implemented = tuple((framework, mode) for framework, mode in variants
                            if registry.implementation_path(workload, framework) is not None)
        if len(implemented) < 2:
            yield WorkloadCheck(workload, implemented, ())
            continue
        if on_workload is not None:
            on_workload(workload, [f"{framework}/{mode}" for framework, mode in implemented])
        yield WorkloadCheck(workload, implemented, tuple(check_workload(
            workload, implemented, size=size, device=device, threads=threads,
            executor=executor, parallel=check_processes(device, threads))))


def check_workload(
    workload: str,
    variants: Sequence[tuple[str, str]],
    *,
    size: str,
    device: str,
    threads: ThreadSettings,
    executor: Executor,
    seed: int = 0,
    on_variant: Callable[[str], None] | None = None,
    parallel: int = 1,
) -> list[ParityResult]:
    """Every pair of `variants` ((framework, mode)) on `workload`, each probed once in its
    mode, `parallel` probes at once; a worker that fails fails its pairs."""
    [results] = check_many([(workload, variants)], size=size, device=device, threads=threads,
                           executor=executor, seed=seed, on_variant=on_variant,
                           parallel=parallel)
    return results


def check_many(
    requests: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    *,
    size: str,
    device: str,
    threads: ThreadSettings,
    executor: Executor,
    seed: int = 0,
    on_variant: Callable[[str], None] | None = None,
    parallel: int = 1,
) -> list[list[ParityResult]]:
    """`check_workload` for each (workload, variants) of `requests`, with one worker process
    per (framework, mode) probing every workload it is asked for: the framework's import is
    paid once, not once per workload. `parallel` of those processes run at once (a check
    times nothing, so they may share the machine), each with `threads`. A probe that fails
    fails its workload's pairs; a process that dies fails every workload it had not
    finished; an interrupt kills the processes in flight (`executor.cancel`)."""
    workloads_of: dict[tuple[str, str], list[str]] = {}
    for workload, variants in requests:
        for variant in variants:
            workloads_of.setdefault(variant, []).append(workload)
    evidence: dict[tuple[str, str, str], Evidence] = {}
    errors: dict[tuple[str, str, str], str] = {}
    with tempfile.TemporaryDirectory(prefix="dlarena-parity-") as folder:
        batches = {(framework, mode): [(CellSpec(
            workload=workload, framework=framework, mode=mode, scenario="check",
            size=size, device=device, batch_size=PROBE_BATCH, precision=PROBE_PRECISION,
            threads=threads, measure=_UNTIMED, seed=seed,
        ), str(Path(folder) / f"{workload}-{framework}-{mode}.npz")) for workload in workloads]
            for (framework, mode), workloads in workloads_of.items()}

        def probe(variant: tuple[str, str]) -> dict[str, str]:
            if on_variant is not None:
                on_variant("/".join(variant))
            return _probe(batches[variant], Path(folder), executor)

        # Each worker is started from a pool thread that lives until every probe has ended
        # (a worker dies with the thread that started it: isolation/lifeline).
        pool = ThreadPoolExecutor(max_workers=max(1, parallel))
        try:
            failures_of = dict(zip(batches, pool.map(probe, batches), strict=True))
        except BaseException:  # interrupted: the pool's workers would run on
            executor.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        for (framework, mode), jobs in batches.items():
            failures = failures_of[(framework, mode)]
            for cell, artifacts in jobs:
                key = (cell.workload, framework, mode)
                if artifacts in failures:
                    errors[key] = f"{framework}/{mode}: {failures[artifacts]}"
                    continue
                with np.load(artifacts) as saved:
                    evidence[key] = {name: saved[name] for name in saved.files}
    return [_compare_pairs(workload, variants, size, evidence, errors)
            for workload, variants in requests]


def _probe(jobs: Sequence[tuple[CellSpec, str]], folder: Path, executor: Executor
           ) -> dict[str, str]:
    """Probe every cell of `jobs` (one framework and mode) in one worker process, each
    writing its evidence to its artifacts path; artifacts path -> why, for those that failed."""
    first, artifacts = jobs[0]
    if len(jobs) == 1:
        outcome = executor.run(first, lambda *_: None, task="check", artifacts=artifacts)
        return {} if outcome.status == "ok" else {artifacts: str(outcome.error)}
    listing = folder / f"{first.framework}-{first.mode}-jobs.json"
    listing.write_text(json.dumps([{"cell": dataclasses.asdict(cell), "artifacts": path}
                                   for cell, path in jobs]))
    carrier = dataclasses.replace(first, timeout_seconds=first.timeout_seconds * len(jobs))
    outcome = executor.run(carrier, lambda *_: None, task="checks", artifacts=str(listing))
    if outcome.status != "ok":
        return {path: str(outcome.error) for _, path in jobs}
    failed = outcome.payload.get("errors", {})
    return {path: str(failed[path]) for _, path in jobs if path in failed}


def _compare_pairs(workload: str, variants: Sequence[tuple[str, str]], size: str,
                   evidence: dict[tuple[str, str, str], Evidence],
                   errors: dict[tuple[str, str, str], str]) -> list[ParityResult]:
    facts = model_facts(workload, size)
    results = []
    for first, second in itertools.combinations(variants, 2):
        failed = [errors[(workload, *name)] for name in (first, second)
                  if (workload, *name) in errors]
        if failed:
            results.append(ParityResult(workload, size, first[0], second[0], (),
                                        "; ".join(failed), first[1], second[1]))
        else:
            results.append(compare(workload=workload, size=size, facts=facts,
                                   first=side(*first), a=evidence[(workload, *first)],
                                   second=side(*second), b=evidence[(workload, *second)]))
    return results

"""The `devex` scenario: one cell's code size, debugger reach and planted mistakes.

Runs in the worker on a built implementation. Planted mistakes never touch the real files:
each is written to a scratch copy in a fresh temporary folder, loaded from there under the
implementation's module name (in this worker process only, which exits after the cell), and
the folder is removed whatever happens.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import dlarena
from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.contract import Implementation, Runtime, Workload
from dlarena.contract.chain import ChainBuilt
from dlarena.worker.devex.codesize import measure_source
from dlarena.worker.devex.mistakes import MISTAKES, Mistake
from dlarena.worker.devex.probe import probe
from dlarena.worker.devex.tracebacks import read_error
from dlarena.worker.timing import Progress

# Training steps run under the debugger probe: the first traces or compiles, the rest show
# whether a breakpoint keeps stopping once a graph exists.
PROBE_STEPS = 3
BUILD = "build"
FIRST_STEP = "first step"
SCRATCH_LABEL = "scratch copy:"


def implementation_file(cell: CellSpec) -> Path:
    path = registry.implementation_path(cell.workload, cell.framework)
    if path is None:
        raise LookupError(f"{cell.framework} does not implement {cell.workload}")
    module = path.partition(":")[0]
    found = importlib.util.find_spec(module)
    if found is None or found.origin is None:
        raise LookupError(f"no source file for {module}")
    return Path(found.origin)


def _batch(impl: Implementation, workload: Workload, cell: CellSpec) -> Any:
    rng = np.random.default_rng(cell.seed + 1)
    return impl.to_device(*workload.synthetic_batch(rng, cell.batch_size, cell.size))


def debugger_reach(impl: Implementation, runtime: Runtime, workload: Workload,
                   cell: CellSpec) -> dict[str, Any] | None:
    """The probe over PROBE_STEPS training steps; None when the implementation names no
    forward pass to stop in."""
    forward = impl.forward_code()
    if forward is None:
        return None
    impl.prepare(training=True)
    batch = _batch(impl, workload, cell)
    result = probe(forward, lambda: runtime.sync(impl.train_step(batch)), PROBE_STEPS,
                   runtime.to_numpy)
    return {"forward": f"{forward.co_qualname} ({Path(forward.co_filename).name}:"
                       f"{forward.co_firstlineno})", **result.to_json()}


def _load_planted(path: Path, module_name: str) -> Any:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Implementation


def plant_and_run(mistake: Mistake, source: Path, cell: CellSpec, runtime: Runtime,
                  workload: Workload) -> dict[str, Any]:
    """Build the planted copy and run one training step; what happened, and where."""
    planted = mistake.plant(source.read_text())
    if planted is None:
        return {"mistake": mistake.name, "plantable": False}
    record: dict[str, Any] = {"mistake": mistake.name, "plantable": True,
                              "planted_line": planted.line, "planted_text": planted.text}
    scratch = Path(tempfile.mkdtemp(prefix="dlarena-devex-"))
    try:
        copy = scratch / source.name
        copy.write_text(planted.source)
        module_name = str(registry.implementation_path(cell.workload, cell.framework)
                          ).partition(":")[0]
        stage = BUILD
        try:
            impl = _load_planted(copy, module_name)(workload, cell, runtime)
            impl.build()
            stage = FIRST_STEP
            impl.prepare(training=True)
            loss = impl.train_step(_batch(impl, workload, cell))
            runtime.sync(loss)
        except Exception as error:
            reading = read_error(
                error, user_roots={str(Path(dlarena.__file__).parent): "dlarena/",
                                   str(scratch): SCRATCH_LABEL},
                harness=__file__, mistake_file=str(copy), mistake_line=planted.line)
            record.update(raised=True, stage=stage, **reading.to_json(),
                          message=str(error)[:2000])
        else:
            counted, expected = (impl.trainable_parameter_count(),
                                 workload.trainable_parameter_count(cell.size))
            # Silent: the model trained; what it became shows how far the mistake went.
            record.update(raised=False, stage=None, trainable_parameters=counted,
                          expected_parameters=expected, loss=_finite_or_text(runtime.scalar(loss)),
                          # The framework inferred the width the mistake would contradict.
                          cannot_be_made=mistake.inferable and counted > expected)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return record


def _finite_or_text(value: float) -> float | str:
    """NaN and infinities as text: JSON readers other than Python's refuse them."""
    return value if math.isfinite(value) else str(value)


def run_devex(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
              progress: Progress) -> tuple[dict[str, float], dict[str, Any]]:
    """(metrics, details) of one devex cell."""
    if isinstance(impl, ChainBuilt):
        # Its file is three lines over dlarena's own chain builder: counting it, or planting
        # mistakes in it, would measure dlarena's code instead of the framework's API.
        raise LookupError(
            f"{cell.framework}'s {cell.workload} is the shared layer chain of "
            f"workloads/sequential.py, built by frameworks/{cell.framework}/model.py, not "
            f"code written in {cell.framework}'s API: ease of development is not measured")
    source = implementation_file(cell)
    size = measure_source(source.read_text())
    metrics = size.metrics()
    details: dict[str, Any] = {"implementation": source.relative_to(
        Path(dlarena.__file__).parent).as_posix(), "code": size.details()}
    progress("debugger probe", 0, 1)
    reach = debugger_reach(impl, runtime, workload, cell)
    details["debugger"] = reach
    if reach is not None:
        metrics.update(probe_stops=float(reach["stops"]),
                       probe_concrete_stops=float(reach["concrete_stops"]))
    mistakes = MISTAKES.get(cell.workload, ())
    records = []
    for index, mistake in enumerate(mistakes):
        progress("planted mistakes", index, len(mistakes))
        records.append(plant_and_run(mistake, source, cell, runtime, workload))
    if mistakes:
        progress("planted mistakes", len(mistakes), len(mistakes))
        metrics.update(
            mistakes_raised=float(sum(bool(r.get("raised")) for r in records)),
            mistakes_at_mistake_line=float(sum(bool(r.get("at_mistake")) for r in records)))
    details["mistakes"] = records
    return metrics, details


"""Shared helpers: cells of the `fake` framework run through the real worker process."""

from __future__ import annotations

import importlib
import os
import time
from typing import Any

import pytest

from dlarena.cell import CellSpec, MeasureSettings, ThreadSettings
from dlarena.engine.plan import PlannedCell
from dlarena.executors.base import CellOutcome

# Every run measures the matrix-product ceiling of each library; a short one is enough here.
os.environ.setdefault("DLARENA_PEAK_SECONDS", "0.05")

FAST = MeasureSettings(min_window_seconds=0.01, windows=3, max_warmup_windows=2)


def json_report(db: str | os.PathLike[str]) -> dict[str, Any]:
    """`dlarena report --format json` of a store, as a user gets it."""
    import json
    import subprocess
    import sys

    found = subprocess.run([sys.executable, "-m", "dlarena.cli", "report", "--db", str(db),
                            "--format", "json"], capture_output=True, text=True, check=True)
    document: dict[str, Any] = json.loads(found.stdout)
    return document


def pytest_configure(config: pytest.Config) -> None:
    _own_cpus_per_lane()


def _own_cpus_per_lane() -> None:
    """Under pytest-xdist (`make test` runs two lanes), each lane and every process it starts
    runs on CPUs of its own: two lanes' framework threads never compete for one core (which
    slows PyTorch's OpenMP threads far more than 2x), and a cell's default thread count is
    its lane's CPUs (`environment.available_cpus` reads the affinity). Outside xdist, or
    with more lanes than CPUs, nothing changes."""
    lane = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
    lanes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if not lane.startswith("gw") or lanes < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if lanes > len(cpus):
        return
    os.sched_setaffinity(0, cpus[int(lane.removeprefix("gw")) % lanes::lanes])


def fake_cell(**changes: Any) -> CellSpec:
    fields: dict[str, Any] = {
        "workload": "mlp", "framework": "fake", "mode": "eager", "scenario": "train",
        "size": "smoke", "device": "cpu", "batch_size": 8, "precision": "fp32",
        "threads": ThreadSettings(1, 1), "measure": FAST, "timeout_seconds": 60.0,
    }
    fields.update(changes)
    return CellSpec(**fields)


class RecordingObserver:
    """Keeps what a run reports, and can interrupt it like Ctrl-C after N cells."""

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.outcomes: list[CellOutcome] = []
        self._interrupt_after = interrupt_after

    def planned(self, run_id: int, total: int, skipped: int, resumed: bool) -> None:
        self.events.append(("planned", (run_id, total, skipped, resumed)))

    def started(self, index: int, total: int, planned: PlannedCell) -> None:
        self.events.append(("started", planned))

    def progress(self, planned: PlannedCell, event: dict[str, Any]) -> None:
        self.events.append(("progress", event))

    def checking(self, workload: str, frameworks: Any) -> None:
        self.events.append(("checking", (workload, list(frameworks))))

    def checked(self, results: Any, *, cached: bool) -> None:
        self.events.append(("checked", (list(results), cached)))

    def note(self, text: str) -> None:
        self.events.append(("note", text))

    def finished(self, index: int, total: int, outcome: CellOutcome) -> None:
        self.outcomes.append(outcome)
        if self._interrupt_after is not None and len(self.outcomes) >= self._interrupt_after:
            raise KeyboardInterrupt


def require(module: str) -> Any:
    """Import a module that `make` installs; skipped locally without it, but under CI a
    missing one fails the test, so CI cannot pass with a framework or tool silently absent."""
    if os.environ.get("CI"):
        try:
            return importlib.import_module(module)
        except ImportError as error:
            pytest.fail(f"{module} is installed by `make` but cannot be imported: {error}")
    return pytest.importorskip(module)


@pytest.fixture
def no_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLARENA_FAKE_FAULT", raising=False)


def processes_marked(marker: str) -> dict[int, str]:
    """pid -> command line of every live process whose environment holds `marker` (a
    coordinator's workers, their guardians and children inherit it); zombies excluded."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as environ:
                if marker.encode() not in environ.read():
                    continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found[int(entry.name)] = command
    return found


def wait_for(condition: Any, seconds: float) -> bool:
    """Polls `condition()` until it is true or `seconds` have passed; its last value."""
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(value)

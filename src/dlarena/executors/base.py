"""The executor interface and the outcome of one cell."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dlarena.cell import OK, STATUSES, CellSpec

ProgressHandler = Callable[[CellSpec, dict[str, Any]], None]


@dataclass(frozen=True)
class CellOutcome:
    """What came back from one worker process: a result payload, or why there is none."""

    cell: CellSpec
    status: str  # one of cell.STATUSES
    error: str | None  # why it failed, or why it is unsupported; None when ok
    payload: dict[str, Any]
    stderr_tail: str
    started_utc: str
    wall_seconds: float
    interpreter: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if (self.status != OK) != (self.error is not None):
            raise ValueError("an error or unsupported outcome needs its reason, an ok one none")


class Executor(ABC):
    @property
    def slots(self) -> int:
        """How many cells it measures at once, each on a machine of its own (the runner
        keeps that many in flight); one on a single machine, so cells never share it."""
        return 1

    def cancel(self) -> None:  # noqa: B027 -- most executors have nothing in flight to stop
        """Stop every cell in flight: the run is interrupted."""

    def end_round(self) -> None:  # noqa: B027 -- most executors keep nothing per round
        """A round of the run has ended: release what was kept for it (fork servers)."""

    def close(self) -> None:  # noqa: B027 -- most executors hold nothing
        """Release what the executor holds (a cluster connection)."""

    @abstractmethod
    def run(
        self, cell: CellSpec, on_progress: ProgressHandler, *, task: str = "measure",
        artifacts: str | None = None, replicate: int = 0,
    ) -> CellOutcome:
        """Run one cell's task in a fresh worker process; never raises for a failed cell.

        task "measure" times the cell; task "check" writes parity evidence to `artifacts`.
        `replicate` numbers the cell's worker processes; the worker adds it to the seed.
        """

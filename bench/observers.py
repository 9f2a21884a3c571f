"""A run's observer for bench scripts: silent but for failed cells (imported by scripts run
as `python bench/NAME.py`, whose folder is then on the import path)."""

from __future__ import annotations

from typing import Any


class FailuresOnly:
    """Says nothing but each failed cell and why."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def finished(self, index: int, total: int, outcome: Any) -> None:
        if outcome.status == "error":
            print(f"  failed: {outcome.cell.label}: {outcome.error}", flush=True)

"""Python API for analysis: stored results as a pandas DataFrame.

    >>> from dlarena.api import results_frame
    >>> frame = results_frame("results/dlarena.db")          # latest run
    >>> frame[frame.metric == "train_throughput"][["workload", "framework", "median"]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlarena.errors import UsageError
from dlarena.report.build import build_report
from dlarena.report.records import COLUMNS, records
from dlarena.store import Store


def results_frame(db: str | Path, run: int | None = None) -> Any:
    """One row per (cell, metric) of a stored run, columns as in `report --format csv`."""
    try:
        import pandas as pd
    except ImportError:
        raise UsageError("results_frame needs pandas: pip install 'dlarena[analysis]'") from None
    store = Store.read(db)
    try:
        report = build_report(store, run)
    except LookupError as error:
        raise UsageError(str(error)) from None
    finally:
        store.close()
    return pd.DataFrame(records(report), columns=list(COLUMNS))

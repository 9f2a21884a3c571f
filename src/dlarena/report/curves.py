"""Learning curves of convergence cells, out to TensorBoard event files.

One run directory per framework/mode and seed, grouped by workload and dataset, so
`tensorboard --logdir results/tensorboard/run-<id>` draws every framework's curves together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlarena.cell import CellSpec
from dlarena.report.tensorboard import write_scalars

CURVES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds")


def run_directory(root: Path, run_id: int, cell: CellSpec, replicate: int) -> Path:
    dataset = cell.options.get("dataset", "synthetic")
    return (root / f"run-{run_id}" / f"{cell.workload}-{dataset}"
            / f"{cell.framework}-{cell.mode}-seed{cell.seed + replicate}")


def write_curves(root: Path, run_id: int, cell: CellSpec, replicate: int,
                 samples: dict[str, Any]) -> Path | None:
    """Write the cell's per-epoch curves; None when it has none (not a convergence cell)."""
    scalars = [
        (name.replace("_", "/", 1), epoch, float(value))
        for name in CURVES
        for epoch, value in enumerate(samples.get(name, []), start=1)
    ]
    if not scalars:
        return None
    return write_scalars(run_directory(root, run_id, cell, replicate), scalars)

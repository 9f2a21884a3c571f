"""dlarena: the same model in several deep-learning frameworks, measured the same way.

The coordinator side (plan, executors, store, reports) never imports a framework; only
``python -m dlarena.worker`` does, one cell per process.
"""

from dlarena.cell import CellSpec, MeasureSettings, ThreadSettings
from dlarena.errors import UsageError

__version__ = "0.1.0"

__all__ = ["CellSpec", "MeasureSettings", "ThreadSettings", "UsageError", "__version__"]

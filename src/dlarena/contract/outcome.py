"""What a cell can end in besides a measurement: `unsupported`, a recorded outcome.

A framework (or an engine, or an exporter) that cannot do what a cell asks *here* raises
`ExportUnsupported` with the reason: a format it cannot produce (a converter that is not
installed, an op the exporter refuses), a model an engine cannot take. The worker stores the
cell as `unsupported` with that reason; reports show it as a row that says why, counted apart
from failures, and a run whose only such cells are these exits 0. A genuine error (an
exception of our code, outputs that differ from the framework's own) is a failure, never this:
raise it only where the reason is the tool's own refusal.
"""

from __future__ import annotations


class ExportUnsupported(Exception):
    """This framework cannot do what the cell asks here; `str(error)` is the reason stored."""

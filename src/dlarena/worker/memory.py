"""Memory probes from the operating system's accounting (worker side, stdlib only)."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (VmHWM on Linux)."""
    if _STATUS.exists():
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kibibytes on Linux and in bytes on macOS.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak_rss() -> bool:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).

    Returns False where the kernel offers no way to, and peaks then include earlier phases.
    """
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True

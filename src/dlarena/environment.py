"""The environment fingerprint stored with every run, and framework availability.

Read without importing any framework: versions come from package metadata (or, for a
framework with its own interpreter, from a tiny subprocess of that interpreter).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlarena
from dlarena import registry
from dlarena.contract import FrameworkInfo
from dlarena.measure import peak

_PROBE = (
    "import importlib.metadata as m, sys\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        print(m.version(name)); break\n"
    "    except m.PackageNotFoundError:\n"
    "        pass\n"
)


def framework_version(info: FrameworkInfo, interpreter: str | None = None) -> str | None:
    """Installed version of the framework, or None when it is not installed."""
    if interpreter is None or Path(interpreter).resolve() == Path(sys.executable).resolve():
        for distribution in info.distributions:
            try:
                return importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None
    try:
        probe = subprocess.run(
            [interpreter, "-c", _PROBE, *info.distributions],
            capture_output=True, text=True, timeout=60, check=False,
        )
    except OSError:
        return None
    return probe.stdout.strip() or None


def installed_frameworks(interpreters: dict[str, str]) -> list[str]:
    """Frameworks installed for the interpreter each would run in (test doubles excepted)."""
    return [name for name, info in registry.frameworks().items()
            if not info.test_double and framework_version(info, interpreters.get(name)) is not None]


def install_command(info: FrameworkInfo, interpreter: str | None = None) -> str:
    return f"{interpreter or sys.executable} -m pip install {info.pip_requirement}"


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def has_nvidia_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None


@functools.cache
def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_bytes() -> int | None:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def gpu_names() -> list[str]:
    if not has_nvidia_gpu():
        return []
    try:
        query = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except OSError:
        return []
    return [line.strip() for line in query.stdout.splitlines() if line.strip()]


def git_sha() -> str | None:
    """The dlarena source's commit, when it runs from a git checkout."""
    source = Path(dlarena.__file__).resolve().parent
    try:
        found = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except OSError:
        return None
    if found.returncode != 0:
        return None
    return found.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine_fingerprint() -> dict[str, Any]:
    """What must match before two runs' numbers are compared as like for like."""
    return {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "cpus_available": available_cpus(),
        "cpus_total": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "gpus": gpu_names(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def fingerprint(
    framework_versions: dict[str, str | None], threads: dict[str, int],
    peaks: dict[str, float | str] | None = None,
) -> dict[str, Any]:
    measured = peaks or {}
    return {
        **machine_fingerprint(),
        "matmul_peak_gflops": peak.ceiling(measured),
        "matmul_peaks_gflops": measured,
        "framework_versions": framework_versions,
        "threads": threads,
        "dlarena_version": dlarena.__version__,
        "git_sha": git_sha(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }

"""The environment fingerprint stored with every run, and framework availability.

Read without importing any framework: versions come from package metadata (or, for a
framework with its own interpreter, from a tiny subprocess of that interpreter).
"""

from __future__ import annotations

import functools
import hashlib
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
from dlarena.analysis import ceiling
from dlarena.cell import ThreadSettings
from dlarena.contract import FrameworkInfo

# argv: the distributions that must all be installed, "--", then those of which the first
# installed gives the version.
_PROBE = (
    "import importlib.metadata as m, sys\n"
    "cut = sys.argv.index('--')\n"
    "try:\n"
    "    [m.version(name) for name in sys.argv[1:cut]]\n"
    "except m.PackageNotFoundError:\n"
    "    sys.exit()\n"
    "for name in sys.argv[cut + 1:]:\n"
    "    try:\n"
    "        print(m.version(name)); break\n"
    "    except m.PackageNotFoundError:\n"
    "        pass\n"
)


# Written into a framework's own environment by scripts/install-venvs.sh when its install
# failed: one line saying why, shown by `dlarena list` and the paper table.
INSTALL_FAILED = "dlarena-install-failed"


def _environment_roots() -> list[Path]:
    """Where own environments are looked for: beside dlarena's source checkout (src/dlarena
    -> the checkout), then beside the coordinator's own environment (.venv -> its folder)."""
    roots = [Path(dlarena.__file__).resolve().parents[2], Path(sys.prefix).resolve().parent]
    return list(dict.fromkeys(roots))


def own_environment(info: FrameworkInfo) -> Path | None:
    """The framework's own environment folder, where it exists; None if it has none."""
    if info.own_environment is None:
        return None
    for root in _environment_roots():
        folder = root / info.own_environment
        if folder.is_dir():
            return folder
    return None


def own_interpreter(info: FrameworkInfo) -> str | None:
    """The Python of the framework's own environment, when that exists."""
    folder = own_environment(info)
    python = folder / "bin" / "python" if folder is not None else None
    return str(python) if python is not None and python.exists() else None


def interpreters(explicit: dict[str, str]) -> dict[str, str]:
    """Each framework's interpreter: the one named with --python, else its own environment's
    Python where it has one; frameworks absent from the result run in this interpreter."""
    found = dict(explicit)
    for name, info in registry.frameworks().items():
        if name not in found:
            python = own_interpreter(info)
            if python is not None:
                found[name] = python
    return found


def not_runnable_reason(info: FrameworkInfo, interpreter: str | None = None) -> str | None:
    """Why the framework cannot be measured here (one line), or None when it is installed."""
    if info.unavailable is not None:
        return f"not runnable here: {info.unavailable}"
    if framework_version(info, interpreter) is not None:
        return None
    folder = own_environment(info)
    failed = folder / INSTALL_FAILED if folder is not None else None
    if failed is not None and failed.exists():
        reason = failed.read_text(errors="replace").strip().splitlines() or ["(no reason)"]
        return f"not installed here: {reason[0]}"
    return f"not installed; install it with: {install_command(info, interpreter)}"


def not_runnable(interpreters: dict[str, str]) -> dict[str, str]:
    """Every real framework that cannot be measured here, with its one-line reason."""
    reasons = {name: not_runnable_reason(info, interpreters.get(name))
               for name, info in registry.frameworks().items() if not info.test_double}
    return {name: reason for name, reason in reasons.items() if reason is not None}


def framework_version(info: FrameworkInfo, interpreter: str | None = None) -> str | None:
    """Installed version of the framework, or None when it is not installed."""
    if info.unavailable is not None:
        return None
    if info.own_environment is not None and interpreter is None:
        return None  # its own environment is missing: never this interpreter's copy
    if interpreter is None or _same_environment(interpreter, sys.executable):
        try:
            for required in info.requires:
                importlib.metadata.version(required)
        except importlib.metadata.PackageNotFoundError:
            return None
        for distribution in info.distributions:
            try:
                return importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None
    return _probed_version(interpreter, info.requires, info.distributions)


@functools.lru_cache(maxsize=64)
def _probed_version(interpreter: str, requires: tuple[str, ...],
                    distributions: tuple[str, ...]) -> str | None:
    """The version another interpreter reports, asked once per process: a run asks for every
    framework's several times (the plan, the check, the record of what could not run)."""
    try:
        probe = subprocess.run(
            [interpreter, "-c", _PROBE, *requires, "--", *distributions],
            capture_output=True, text=True, timeout=60, check=False,
        )
    except OSError:
        return None
    return probe.stdout.strip() or None


def _same_environment(first: str, second: str) -> bool:
    """Whether two interpreters are one environment's: their folders, not their binaries,
    are compared, since every virtual environment's python links to the same base binary."""
    return Path(first).absolute().parent.resolve() == Path(second).absolute().parent.resolve()


def installed_frameworks(interpreters: dict[str, str]) -> list[str]:
    """Frameworks installed for the interpreter each would run in (test doubles excepted)."""
    return [name for name, info in registry.frameworks().items()
            if not info.test_double and framework_version(info, interpreters.get(name)) is not None]


def install_command(info: FrameworkInfo, interpreter: str | None = None) -> str:
    if info.own_environment is not None and interpreter is None:
        return f"make venvs (or: bash scripts/install-venvs.sh {info.name})"
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


# Instruction-set flags that decide a CPU's float32 rate (vector width, FMA, matrix units).
_ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16",
              "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16", "amx_fp16", "asimd", "sve")


@functools.cache
def cpu_identity() -> dict[str, Any]:
    """What identifies the CPU: vendor, family, model, stepping, ISA flags, its
    microarchitecture, and the maximum clock when the kernel reports one (VMs often do not)."""
    fields: dict[str, str] = {}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if not line.strip():
                break  # the first processor's block is enough
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    identity: dict[str, Any] = {
        "vendor": fields.get("vendor_id") or platform.machine(),
        "family": _integer(fields.get("cpu family")),
        "model": _integer(fields.get("model")),
        "stepping": _integer(fields.get("stepping")),
        "model_name": fields.get("model name") or platform.processor() or platform.machine(),
        "flags": [flag for flag in _ISA_FLAGS if flag in flags],
        "max_clock_ghz": _max_clock_ghz(),
    }
    arch = ceiling.microarchitecture(identity)
    identity["microarchitecture"] = arch.name if arch is not None else "unknown"
    return identity


def _integer(text: str | None) -> int | None:
    try:
        return int(text, 0) if text else None
    except ValueError:
        return None


def _max_clock_ghz() -> float | None:
    path = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")  # kHz
    try:
        return int(path.read_text().strip()) / 1e6
    except (OSError, ValueError):
        return None


def memory_bytes() -> int | None:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


# nvidia-smi's fields for a GPU's identity; `compute_cap` needs a driver from 2022 on.
_GPU_FIELDS = ("name", "compute_cap", "memory.total", "driver_version")


@functools.cache
def gpu_identity() -> list[dict[str, Any]]:
    """Each NVIDIA GPU as nvidia-smi names it: its name, compute capability, memory (MiB) and
    driver; an nvidia-smi too old for `compute_cap` gives the others."""
    if not has_nvidia_gpu():
        return []
    for fields in (_GPU_FIELDS, tuple(f for f in _GPU_FIELDS if f != "compute_cap")):
        try:
            query = subprocess.run(
                ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=30, check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        if query.returncode == 0:
            return [_gpu_row(fields, line) for line in query.stdout.splitlines() if line.strip()]
    return []


def _gpu_row(fields: tuple[str, ...], line: str) -> dict[str, Any]:
    values = dict(zip(fields, (value.strip() for value in line.split(",")), strict=False))
    return {"name": values.get("name", "?"), "compute_capability": values.get("compute_cap"),
            "memory_mib": _integer(values.get("memory.total")),
            "driver": values.get("driver_version")}


def gpu_names() -> list[str]:
    return [gpu["name"] for gpu in gpu_identity()]


# Presentation only: a report reads stored figures, so changing these starts no new run.
_NOT_MEASUREMENT_CODE = ("report", "cli")


def code_version() -> str:
    """dlarena's version plus a hash of every source file that decides what a cell measures
    (not the report and CLI code), and of the user's model file when a run names one: a run
    is one code version."""
    digest = hashlib.sha256(_source_digest().encode())
    for name in registry.workloads():
        digest.update(registry.source_digest(name).encode())
    return f"{dlarena.__version__}+{digest.hexdigest()[:12]}"


@functools.cache
def _source_digest() -> str:
    source = Path(dlarena.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*.py")):
        relative = path.relative_to(source)
        if relative.parts[0] not in _NOT_MEASUREMENT_CODE:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


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
        "cpu": cpu_identity(),
        "cpu_microarchitecture": cpu_identity()["microarchitecture"],
        "cpus_available": available_cpus(),
        "cpus_total": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "gpus": gpu_names(),
        "gpu_identity": gpu_identity(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def fingerprint(
    framework_versions: dict[str, str | None], threads: dict[str, int],
    peaks: dict[str, float | str] | None = None, device: str = "cpu",
) -> dict[str, Any]:
    measured = peaks or {}
    machine = machine_fingerprint()
    physical = ceiling.ceiling(machine, device)
    return {
        **machine,
        "matmul_peak_gflops": best_peak(measured),
        "matmul_peaks_gflops": measured,
        "device": device,
        "physical_ceiling_gflops": physical.gflops if physical is not None else None,
        "physical_ceiling_basis": physical.what if physical is not None else "unknown hardware",
        "framework_versions": framework_versions,
        "threads": threads,
        "dlarena_version": dlarena.__version__,
        "git_sha": git_sha(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def matmul_peaks(frameworks: dict[str, str], *, threads: ThreadSettings, device: str = "cpu"
                 ) -> dict[str, float | str]:
    """GFLOP/s per library: NumPy and each framework given (name -> interpreter), each in its
    own process with a worker's environment; a failure is recorded as its reason."""
    from dlarena import registry
    from dlarena.executors.local import worker_environment

    peaks: dict[str, float | str] = {}
    for name, interpreter in {"numpy": sys.executable, **frameworks}.items():
        command = [interpreter, "-m", "dlarena.worker.peak", name, str(threads.intra_op),
                   str(threads.inter_op), device]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=180,
                                  check=False, env=worker_environment(
                                      threads, os.environ,
                                      framework=registry.frameworks().get(name)))
        except (OSError, subprocess.TimeoutExpired) as error:
            peaks[name] = f"failed: {error}"
            continue
        lines = done.stdout.strip().splitlines()
        if done.returncode == 0 and lines:
            peaks[name] = float(lines[-1])
        else:
            peaks[name] = "failed: " + (done.stderr.strip().splitlines() or ["no output"])[-1]
    return peaks


def best_peak(peaks: dict[str, float | str]) -> float | None:
    """The best measured product: the ceiling achieved GFLOP/s are compared with."""
    values = [value for value in peaks.values() if isinstance(value, float)]
    return max(values) if values else None

"""The physical ceiling: the most float32 FLOP/s this hardware could do, from what it is.

cores x vector float32 FLOPs per cycle x clock, with FLOPs per cycle from a table keyed by
microarchitecture (the kernel names the vendor, family and model, not the FMA units), and the
clock from the kernel when it reports one. A virtual machine often reports none; then the
ceiling takes the highest boost clock the microarchitecture ships with, so it stays an upper
bound: a figure above it measures something else (fewer multiply-adds than counted, a wrong
unit, a timer that did not wait) and is flagged "impossible". A GPU's ceiling is its
published float32 (non-tensor-core) peak. Pure functions: `environment` reads the hardware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Microarchitecture:
    name: str
    # float32 FLOPs per cycle per core: FMA pipes x vector lanes x 2.
    flops_per_cycle: int
    # The highest boost clock of any part of this microarchitecture, GHz (used when the kernel
    # reports no clock).
    max_clock_ghz: float


# (vendor, family, first model, last model) -> microarchitecture. AMD numbers from the
# Software Optimization Guides: Zen/Zen+ two 128-bit FMA pipes, Zen 2-4 two 256-bit (Zen 4
# runs AVX-512 on them, in two halves), Zen 5 two full 512-bit pipes in server and desktop
# parts. Intel server cores with AVX-512 have up to two 512-bit FMA units.
_TABLE: tuple[tuple[str, int, int, int, Microarchitecture], ...] = (
    ("AuthenticAMD", 0x17, 0x00, 0x2F, Microarchitecture("Zen / Zen+", 16, 4.3)),
    ("AuthenticAMD", 0x17, 0x30, 0xFF, Microarchitecture("Zen 2", 32, 4.7)),
    ("AuthenticAMD", 0x19, 0x00, 0x0F, Microarchitecture("Zen 3", 32, 4.9)),
    ("AuthenticAMD", 0x19, 0x10, 0x1F, Microarchitecture("Zen 4", 32, 5.7)),
    ("AuthenticAMD", 0x19, 0x20, 0x5F, Microarchitecture("Zen 3", 32, 4.9)),
    ("AuthenticAMD", 0x19, 0x60, 0xAF, Microarchitecture("Zen 4", 32, 5.7)),
    ("AuthenticAMD", 0x1A, 0x00, 0xFF, Microarchitecture("Zen 5", 64, 5.7)),
)
# By instruction set when the table does not know the part: the widest FMA it could have.
_BY_FLAGS = (
    ("avx512f", Microarchitecture("unknown x86 with AVX-512", 64, 6.0)),
    ("fma", Microarchitecture("unknown x86 with AVX2/FMA", 32, 6.0)),
    ("avx", Microarchitecture("unknown x86 with AVX", 16, 6.0)),
)
# Published float32 peaks without tensor cores, TFLOP/s, by a name's distinctive part.
GPU_FP32_TFLOPS = {
    "H200": 67.0, "H100 PCIe": 51.2, "H100": 67.0, "A100": 19.5, "A10G": 31.2, "A10": 31.2,
    "L40S": 91.6, "L4": 30.3, "V100": 15.7, "T4": 8.1, "RTX 4090": 82.6, "RTX 3090": 35.6,
}


@dataclass(frozen=True)
class Ceiling:
    gflops: float
    what: str  # the hardware and how the figure was reached, in words

    def impossible(self, gflops: float) -> bool:
        return gflops > self.gflops


def microarchitecture(cpu: Mapping[str, Any]) -> Microarchitecture | None:
    """What the CPU is, from /proc/cpuinfo's vendor, family, model and flags."""
    vendor, family, model = cpu.get("vendor"), cpu.get("family"), cpu.get("model")
    for known_vendor, known_family, first, last, found in _TABLE:
        if (vendor, family) == (known_vendor, known_family) and first <= (model or 0) <= last:
            return found
    flags = set(cpu.get("flags", ()))
    return next((found for flag, found in _BY_FLAGS if flag in flags), None)


def cpu_ceiling(cpu: Mapping[str, Any], cores: int) -> Ceiling | None:
    arch = microarchitecture(cpu)
    if arch is None:
        return None
    clock = cpu.get("max_clock_ghz")
    basis = (f"{clock:g} GHz reported by the kernel" if clock else
             f"{arch.max_clock_ghz:g} GHz, the highest boost clock of {arch.name} (the kernel "
             "reports no clock)")
    clock = clock or arch.max_clock_ghz
    gflops = cores * arch.flops_per_cycle * clock
    return Ceiling(gflops, f"{arch.name}: {cores} cores x {arch.flops_per_cycle} float32 "
                           f"FLOP/cycle x {basis}")


def gpu_ceiling(name: str) -> Ceiling | None:
    for part, tflops in GPU_FP32_TFLOPS.items():  # longer names first where they overlap
        if part in name:
            return Ceiling(tflops * 1e3, f"{name}: published float32 peak {tflops:g} TFLOP/s")
    return None


def ceiling(environment: Mapping[str, Any], device: str) -> Ceiling | None:
    """The ceiling of a stored run's device, from its environment fingerprint."""
    if device == "gpu":
        gpus = environment.get("gpus") or []
        return gpu_ceiling(gpus[0]) if gpus else None
    return cpu_ceiling(environment.get("cpu") or {}, int(environment.get("cpus_available") or 1))

"""The physical ceiling from what the hardware is, and the flag on figures above it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlarena.analysis import ceiling
from dlarena.engine import environment
from dlarena.report import formatting as fmt
from dlarena.report.build import build_report
from dlarena.report.facts import default_mode
from dlarena.report.table import hardware_lines
from dlarena.store import Store
from tests.report.test_reports import _ok

ZEN4 = {"vendor": "AuthenticAMD", "family": 25, "model": 17, "flags": ["avx2", "avx512f"]}
ZEN5 = {"vendor": "AuthenticAMD", "family": 26, "model": 2, "flags": ["avx2", "avx512f"]}


def test_microarchitectures_from_family_and_model() -> None:
    zen4, zen5 = ceiling.microarchitecture(ZEN4), ceiling.microarchitecture(ZEN5)
    assert zen4 is not None and (zen4.name, zen4.flops_per_cycle) == ("Zen 4", 32)
    assert zen5 is not None and (zen5.name, zen5.flops_per_cycle) == ("Zen 5", 64)
    unknown = ceiling.microarchitecture({"vendor": "GenuineIntel", "family": 6, "model": 143,
                                         "flags": ["avx2", "fma", "avx512f"]})
    assert unknown is not None and unknown.flops_per_cycle == 64
    assert ceiling.microarchitecture({"vendor": "x", "flags": []}) is None


def test_cpu_ceiling_is_cores_times_flops_per_cycle_times_clock() -> None:
    found = ceiling.cpu_ceiling({**ZEN4, "max_clock_ghz": 4.0}, cores=2)
    assert found is not None and found.gflops == pytest.approx(2 * 32 * 4.0)
    assert "4 GHz reported by the kernel" in found.what


def test_without_a_clock_the_ceiling_assumes_the_fastest_part() -> None:
    found = ceiling.cpu_ceiling(ZEN4, cores=2)
    assert found is not None and found.gflops == pytest.approx(2 * 32 * 5.7)
    assert "the kernel reports no clock" in found.what
    # FACTS.md: 202 GFLOP/s measured on a 2-core Zen 4, 490 on a 2-core Zen 5: both possible.
    assert not found.impossible(202.0)
    zen5 = ceiling.cpu_ceiling(ZEN5, cores=2)
    assert zen5 is not None and not zen5.impossible(490.0)
    assert found.impossible(490.0)  # 490 on a Zen 4 would be impossible


def test_gpu_ceiling_from_its_published_peak() -> None:
    h200, pcie = ceiling.gpu_ceiling("NVIDIA H200"), ceiling.gpu_ceiling("NVIDIA H100 PCIe")
    assert h200 is not None and h200.gflops == 67_000
    assert pcie is not None and pcie.gflops == 51_200
    assert ceiling.gpu_ceiling("Some Future GPU") is None


NVIDIA_SMI = """#!/bin/sh
case "$1" in
  *compute_cap*) {old} ;;
esac
case "$1" in
  --query-gpu=name,*) echo "NVIDIA H200, {capability}143771, 580.159.03" ;;
  *) exit 2 ;;
esac
"""


@pytest.mark.parametrize("old", [False, True])
def test_a_gpu_is_identified_with_its_compute_capability(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: bool) -> None:
    """nvidia-smi's name, compute capability, memory and driver reach the fingerprint and
    the report; a driver too old to know `compute_cap` still gives the rest."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text(NVIDIA_SMI.format(
        old='echo "Field \\"compute_cap\\" is not a valid field to query." >&2; exit 2'
        if old else ":", capability="" if old else "9.0, "))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    environment.gpu_identity.cache_clear()
    try:
        (gpu,) = environment.gpu_identity()
    finally:
        environment.gpu_identity.cache_clear()
    assert gpu == {"name": "NVIDIA H200", "compute_capability": None if old else "9.0",
                   "memory_mib": 143771, "driver": "580.159.03"}
    words = fmt.gpus({"gpus": ["NVIDIA H200"], "gpu_identity": [gpu]})
    assert words == ("NVIDIA H200 (compute capability not reported, 143771 MiB)" if old
                     else "NVIDIA H200 (compute capability 9.0, 143771 MiB)")
    assert fmt.gpus({"gpus": ["NVIDIA H200"]}) == "NVIDIA H200"  # a run from before


def test_this_machine_is_identified() -> None:
    identity = environment.cpu_identity()
    assert {"vendor", "family", "model", "stepping", "flags", "microarchitecture"} <= set(identity)
    fingerprint = environment.fingerprint({}, {"intra_op": 1, "inter_op": 1})
    assert fingerprint["cpu_microarchitecture"] == identity["microarchitecture"]
    assert "physical_ceiling_basis" in fingerprint


def test_a_figure_above_the_ceiling_is_flagged_impossible(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="dlarena run", environment={
        "created_utc": "2026-11-29T00:00:00+00:00", "cpu": {**ZEN4, "microarchitecture": "Zen 4"},
        "physical_ceiling_gflops": 0.1, "physical_ceiling_basis": "test",
        "matmul_peaks_gflops": {"numpy": 0.05, "torch": 0.2}})
    # ncf at smoke size, 100 steps of batch 256 a second: far above 0.1 GFLOP/s.
    store.save(run_id, _ok("1", [[100, 1.0], [100, 1.01], [100, 0.99]], workload="ncf",
                           framework="torch", mode=default_mode("torch"), batch_size=256),
               process=0)
    report = build_report(store, run_id)
    store.close()
    (cell,) = report.cells
    assert any(flag.startswith("impossible: ") and "> physical ceiling 0.1" in flag
               for flag in cell.flags)
    lines = hardware_lines(report)
    assert lines[0].startswith("CPU: Zen 4")
    assert "torch 0.2 (impossible: 0.2 > 0.1)" in lines[-1]
    assert "numpy 0.05 ·" in lines[-1] and "numpy 0.05 (impossible" not in lines[-1]

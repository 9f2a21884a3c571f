"""Reports from a stored run that has a failed cell, an unstable cell and a hostile string."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from dlarena.analysis.verdict import ONE_PROCESS
from dlarena.executors.base import CellOutcome
from dlarena.report import html as html_report
from dlarena.report import json as json_report
from dlarena.report import markdown, terminal
from dlarena.report.build import build_report
from dlarena.report.model import Report
from dlarena.store import Store
from tests.conftest import fake_cell

HOSTILE = "RuntimeError: <script>alert('x')</script> | broken"


def _ok(framework_label: str, windows: list[list[float]], **cell: object) -> CellOutcome:
    return CellOutcome(
        cell=fake_cell(**cell), status="ok", error=None,
        payload={"throughput_metric": "train_throughput", "windows": windows, "warmup": [],
                 "metrics": {"peak_rss_bytes": 2.0**28}, "framework_version": framework_label,
                 "clock_resolution": 1e-9, "warmup_capped": False},
        stderr_tail="", started_utc="2026-11-23T00:00:00+00:00", wall_seconds=1.0,
        interpreter="python",
    )


def _new_run(store: Store) -> int:
    return store.create_run(plan_key="k", command="dlarena run", environment={
        "created_utc": "2026-11-23T00:00:00+00:00", "cpu_model": "Test CPU",
        "framework_versions": {"fake": "1"}, "threads": {"intra_op": 1, "inter_op": 1}})


@pytest.fixture
def report(tmp_path: Path) -> Report:
    store = Store.open(tmp_path / "r.db")
    run_id = _new_run(store)
    steady = [[100, 1.0], [100, 1.01], [100, 0.99], [100, 1.0]]
    noisy = [[100, 1.0], [100, 2.0], [100, 0.5], [100, 1.5]]
    store.save(run_id, _ok("1", steady), process=0)
    store.save(run_id, _ok("1", noisy, seed=1), process=0)  # another "framework/mode" group
    store.save(run_id, CellOutcome(
        cell=fake_cell(workload="cnn"), status="error", error=HOSTILE, payload={},
        stderr_tail="", started_utc="2026-11-23T00:00:00+00:00", wall_seconds=1.0,
        interpreter="python"), process=0)
    built = build_report(store, run_id)
    store.close()
    return built


def test_unstable_and_failed_cells_are_flagged_not_dropped(report: Report) -> None:
    flags = [cell.flags for cell in report.cells]
    assert () in flags
    assert any(any(f.startswith("unstable: CV") for f in fl) for fl in flags)
    [failed] = report.failed
    assert failed.stored.error == HOSTILE


def test_markdown_escapes_html_and_pipes(report: Report) -> None:
    text = markdown.render(report)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "\\| broken" in text
    assert "## Failed cells" in text
    assert "unstable: CV" in text


def test_json_keeps_errors_verbatim_and_flags(report: Report) -> None:
    document = json.loads(json_report.render(report))
    by_workload = {(c["workload"], c["status"]) for c in document["cells"]}
    assert ("cnn", "error") in by_workload
    errors = [c["error"] for c in document["cells"] if c["status"] == "error"]
    assert errors == [HOSTILE]
    steady = document["cells"][0]["metrics"]["train_throughput"]
    # batch 8 * 100 steps per ~1 s window
    assert steady["median"] == pytest.approx(800.0, rel=0.01)
    assert steady["ci_low"] <= steady["median"] <= steady["ci_high"]
    assert any(cell["flags"] for cell in document["cells"])


def test_terminal_shows_failure_and_does_not_interpret_markup(report: Report) -> None:
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=200, color_system=None))
    text = buffer.getvalue()
    assert "FAILED: RuntimeError: <script>alert('x')</script>" in text.replace("\n", "")
    assert "Test CPU" in text


def test_a_failed_parity_check_replaces_the_speed_verdict(tmp_path: Path) -> None:
    from dlarena.parity.compare import Check, ParityResult

    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="dlarena run", environment={
        "created_utc": "2026-11-23T00:00:00+00:00"})
    fast = [[100, 0.5], [100, 0.51], [100, 0.49]]
    slow = [[100, 1.0], [100, 1.01], [100, 0.99]]
    store.save(run_id, _ok("1", fast, framework="torch", mode="eager"), process=0)
    store.save(run_id, _ok("1", slow, framework="tensorflow", mode="function"), process=0)
    report = build_report(store, run_id)
    [verdict] = report.groups[0].verdicts
    assert verdict.significant and "2.00x faster" in verdict.text
    assert report.unchecked_pairs == [("mlp", "torch/eager", "tensorflow/function")]
    assert "same-model check not run" in markdown.render(report)

    store.save_parity(run_id, "v", ParityResult(
        "mlp", "smoke", "torch", "tensorflow",
        (Check("forward (inference mode)", False, "first difference at dense1"),)))
    report = build_report(store, run_id)
    [verdict] = report.groups[0].verdicts
    assert not verdict.significant
    assert verdict.text == ("not comparable: forward (inference mode): first difference at "
                            "dense1")
    assert "NOT the same model" in markdown.render(report)
    document = json.loads(json_report.render(report))
    assert document["parity"][0]["passed"] is False

    # A check that could not run (no evidence: a worker failed) is not comparable, and not
    # reported as a difference found.
    store.save_parity(run_id, "w", ParityResult(
        "mlp", "smoke", "torch", "tensorflow", (),
        "torch: DeviceUnavailable: the cell asks for a GPU but torch sees no CUDA device"))
    report = build_report(store, run_id)
    [verdict] = report.groups[0].verdicts
    assert verdict.text.startswith("not comparable: torch: DeviceUnavailable")
    text = markdown.render(report)
    assert "the same-model check could not run — torch: DeviceUnavailable" in text
    assert "NOT the same model" not in text
    assert "the check could not run" in html_report.render(report)
    assert document["verdicts"][0]["text"].startswith("not comparable")


def _audit(label: str, ratio: float) -> object:
    from dlarena.parity.compare import PrecisionAudit, PrecisionFinding

    expected = 1e-6
    return PrecisionAudit(label, "fp32", (
        PrecisionFinding("layer outputs", "dense1 (inference)", ratio * expected, expected, 280),
        PrecisionFinding("gradients", "out.kernel", 0.1 * expected, expected, 976)))


def test_verdicts_rest_on_the_check_of_their_own_modes(tmp_path: Path) -> None:
    from dlarena.parity.compare import Check, ParityResult

    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="dlarena run", environment={
        "created_utc": "2026-11-23T00:00:00+00:00"})
    store.save(run_id, _ok("1", [[100, 0.5], [100, 0.51], [100, 0.49]], framework="torch",
                           mode="compile"), process=0)
    store.save(run_id, _ok("1", [[100, 1.0], [100, 1.01], [100, 0.99]],
                           framework="tensorflow", mode="xla"), process=0)
    passed = (Check("parameters", True, "same"),)
    # A check of the default modes (as stored before modes were) says nothing of these.
    store.save_parity(run_id, "default", ParityResult("mlp", "smoke", "torch", "tensorflow",
                                                      passed))
    report = build_report(store, run_id)
    [verdict] = report.groups[0].verdicts
    assert verdict.checked is None and report.unchecked_pairs == [
        ("mlp", "torch/compile", "tensorflow/xla")]

    store.save_parity(run_id, "compiled", ParityResult(
        "mlp", "smoke", "torch", "tensorflow", passed, first_mode="compile", second_mode="xla",
        audits=(_audit("torch/compile", 3.0), _audit("tensorflow/xla", 1.0))))  # type: ignore[arg-type]
    report = build_report(store, run_id)
    [verdict] = report.groups[0].verdicts
    assert verdict.significant and report.unchecked_pairs == []
    assert verdict.checked == ("torch/compile vs tensorflow/xla in float64, their float32 "
                               "paths audited")
    text = markdown.render(report)
    assert "[same model: torch/compile vs tensorflow/xla in float64" in text
    assert "mlp (smoke): torch/compile vs tensorflow/xla, checked in float64: same model" in text
    assert report.manifest()["torch/compile"]["precision_audit"] == (
        "worst 3.0x float32's expected rounding error (mlp, layer outputs at dense1 "
        "(inference): 3.0e-06 from float64)")
    exported = json.loads(json_report.render(report))["verdicts"][0]
    assert exported["same_model_checked"] == verdict.checked
    # one process a side: every format says the interval leaves out between-process variation
    assert f"[{ONE_PROCESS}]" in text and exported["between_processes"] is False
    assert ONE_PROCESS.split("windows, ")[1] in html_report.render(report)


def test_a_timed_path_at_reduced_precision_makes_the_verdict_not_comparable_everywhere(
        tmp_path: Path) -> None:
    from dlarena.parity.compare import Check, ParityResult
    from dlarena.report import html

    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="dlarena run", environment={
        "created_utc": "2026-11-23T00:00:00+00:00"})
    store.save(run_id, _ok("1", [[100, 0.5], [100, 0.51], [100, 0.49]], framework="torch",
                           mode="eager"), process=0)
    store.save(run_id, _ok("1", [[100, 1.0], [100, 1.01], [100, 0.99]],
                           framework="tensorflow", mode="function"), process=0)
    store.save_parity(run_id, "v", ParityResult(
        "mlp", "smoke", "torch", "tensorflow", (Check("parameters", True, "same"),),
        first_mode="eager", second_mode="function",
        audits=(_audit("torch/eager", 2000.0), _audit("tensorflow/function", 1.0))))  # type: ignore[arg-type]
    report = build_report(store, run_id)
    [verdict] = report.groups[0].verdicts
    reason = ("not comparable: reduced precision (torch/eager fp32: layer outputs at dense1 "
              "(inference) differ from float64 by 2.0e-03, 2000.0x float32's expected 1.0e-06 "
              "(agrees to about 9 bits))")
    assert not verdict.comparable and verdict.text == reason
    assert reason in markdown.render(report)
    assert "same model, NOT comparable" in markdown.render(report)
    assert json.loads(json_report.render(report))["verdicts"][0]["text"] == reason
    assert "REDUCED PRECISION" in report.manifest()["torch/eager"]["precision_audit"]
    page = html.render(report)
    assert "reduced precision (torch/eager fp32" in page
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=400, color_system=None))
    assert reason in buffer.getvalue()


def test_verdicts_on_unstable_cells_say_so(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment={"created_utc": "t"})
    store.save(run_id, _ok("1", [[100, 0.5], [100, 0.9], [100, 0.4]], framework="torch",
                           mode="eager"), process=0)
    store.save(run_id, _ok("1", [[100, 1.0], [100, 1.01], [100, 0.99]],
                           framework="tensorflow", mode="function"), process=0)
    report = build_report(store, run_id)
    text = markdown.render(report)
    assert "[flagged: torch/eager unstable]" in text
    assert json.loads(json_report.render(report))["verdicts"][0]["flagged_cells"] == [
        "torch/eager"]


def test_every_verdict_reads_its_own_pair_s_rounds_only(tmp_path: Path) -> None:
    """Four workloads in two frameworks, three rounds each, one of them 10x noisier: each
    verdict's interval is the paired one of its own two cells, whatever the other groups
    hold (verdict rules 4 moderated every pair by the run's noise, so a quiet workload was
    judged with a noisy one's variance)."""
    import numpy as np

    from dlarena.analysis import stats

    rng = np.random.default_rng(2)
    store = Store.open(tmp_path / "r.db")
    run_id = _new_run(store)
    samples: dict[str, list[list[list[float]]]] = {}
    for workload, noise in (("mlp", 0.01), ("cnn", 0.01), ("lstm", 0.01), ("gnmt", 0.1)):
        for mode, speed in (("eager", 1.0), ("compiled", 1.3)):
            per_process = samples.setdefault(workload, [])
            per_process.append([])
            for process in range(3):
                seconds = list(speed * np.exp(rng.normal(0, noise)) * (1 + rng.normal(0, 0.01, 3)))
                per_process[-1].append([100 * 8 / s for s in seconds])  # steps x batch / s
                store.save(run_id, _ok("1", [[100, s] for s in seconds], workload=workload,
                                       mode=mode), process=process)
    report = build_report(store, run_id)
    store.close()
    for group in report.groups:
        [verdict] = group.verdicts
        eager, compiled = samples[group.workload]
        first, second = (eager, compiled) if verdict.first.endswith("eager") else (compiled, eager)
        assert verdict.interval == pytest.approx(stats.paired_ratio_ci(first, second))


def test_an_adaptive_verdict_reads_its_pair_s_first_decisive_look(tmp_path: Path) -> None:
    """mlp's pair was decided after 2 rounds; its cells ran on to 5 (as a cell in a group's
    open pair would), with rounds that would blur the interval: the verdict is the decisive
    look's, labelled for what all looks hold. cnn's pair, as noisy as it is alike, is
    undecided and says how many rounds it would need."""
    from dlarena.analysis import stats, stopping

    rule = stopping.StoppingRule()
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="dlarena run", environment={
        "created_utc": "2026-11-23T00:00:00+00:00", "cpu_model": "Test CPU",
        "framework_versions": {"fake": "1"}, "threads": {"intra_op": 1, "inter_op": 1},
        "stopping": rule.to_json()})
    levels = {("mlp", "eager"): [1.0, 1.0, 1.0, 1.0, 1.0],
              ("mlp", "compiled"): [2.0, 2.01, 1.0, 3.0, 0.9],
              ("cnn", "eager"): [1.0, 1.0, 1.0, 1.0, 1.0],
              ("cnn", "compiled"): [1.0, 1.3, 0.77, 1.0, 1.0]}
    samples: dict[tuple[str, str], list[list[float]]] = {}
    for (workload, mode), speeds in levels.items():
        for process, speed in enumerate(speeds):
            seconds = [1 / speed, 1.001 / speed, 0.999 / speed]
            samples.setdefault((workload, mode), []).append([800 / s for s in seconds])
            store.save(run_id, _ok("1", [[100, s] for s in seconds], workload=workload,
                                   mode=mode), process=process)
    report = build_report(store, run_id)
    store.close()
    verdicts = {group.workload: group.verdicts[0] for group in report.groups}
    mlp, cnn = verdicts["mlp"], verdicts["cnn"]
    assert (mlp.decision, mlp.rounds) == (stopping.DIFFERENT, 2)
    first = samples[("mlp", mlp.first.split("/")[1])]
    second = samples[("mlp", mlp.second.split("/")[1])]
    assert mlp.interval == pytest.approx(stopping.settle(first, second, rule).interval)
    assert mlp.ratio == pytest.approx(stats.ratio_of_rounds(first, second, 2))
    assert "95% CI over all looks" in mlp.text
    assert cnn.decision == stopping.UNDECIDED and cnn.needed is not None
    assert f"needs about {cnn.needed} rounds" in cnn.text and "(≈ " in cnn.text


def test_a_failed_data_parallel_check_blocks_the_verdict_in_every_format(
        tmp_path: Path) -> None:
    """train-ddp cells whose ranks did not train the same model as one process (a rank's
    weights off the expected step) are not compared, whichever side failed."""
    def ddp(framework: str, mode: str, seconds: float, same: float) -> CellOutcome:
        outcome = _ok("1", [[100, seconds], [100, seconds * 1.01], [100, seconds * 0.99]],
                      framework=framework, mode=mode, scenario="train-ddp",
                      options={"ranks": 2})
        outcome.payload["metrics"].update({
            "data_parallel_same_model": same, "data_parallel_weight_difference":
            1e-15 if same else 0.25, "data_parallel_global_batch_difference": 1e-15})
        return outcome

    for failing in ("torch", "tensorflow"):
        store = Store.open(tmp_path / f"{failing}.db")
        run_id = _new_run(store)
        store.save(run_id, ddp("torch", "eager", 0.5, float(failing != "torch")), process=0)
        store.save(run_id, ddp("tensorflow", "function", 1.0, float(failing != "tensorflow")),
                   process=0)
        report = build_report(store, run_id)
        store.close()
        [verdict] = report.groups[0].verdicts
        assert not verdict.significant and not verdict.comparable
        assert verdict.text.startswith(
            f"not comparable: {failing}/") and "data-parallel same-model check (weights " \
            "2.5e-01 from the expected step" in verdict.text, verdict.text
        assert "2.00x faster" not in markdown.render(report)
        assert "data-parallel same-model check" in html_report.render(report)
        document = json.loads(json_report.render(report))
        assert document["verdicts"][0]["text"] == verdict.text

    # Both passing: the verdict stands.
    store = Store.open(tmp_path / "both.db")
    run_id = _new_run(store)
    store.save(run_id, ddp("torch", "eager", 0.5, 1.0), process=0)
    store.save(run_id, ddp("tensorflow", "function", 1.0, 1.0), process=0)
    report = build_report(store, run_id)
    store.close()
    [verdict] = report.groups[0].verdicts
    assert verdict.significant and "2.00x faster" in verdict.text

"""Deployment scenarios with the fake framework, through the real worker processes: a load
that computes other outputs fails its cell, a failing export records why, a server that
crashes mid-load fails its cell, and no server outlives its cell. The load generator, the
server and the output comparison on their own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from dlarena.cell import MeasureSettings
from dlarena.deploy import load as loadgen
from dlarena.deploy.compare import agreement
from dlarena.deploy.server import _Server
from dlarena.executors.local import LocalExecutor
from tests.conftest import fake_cell, processes_marked, wait_for

pytestmark = pytest.mark.usefixtures("no_fault")


@pytest.fixture
def marker(monkeypatch: pytest.MonkeyPatch) -> str:
    """An environment variable every process of the cell inherits, to find survivors."""
    value = f"dlarena-deploy-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("DLARENA_TEST_MARKER", value)
    return value


def run_fake(scenario: str, **options: object):  # type: ignore[no-untyped-def]
    # Load levels of 0.3 s each: enough requests for a planted crash after 10 to happen.
    cell = fake_cell(scenario=scenario, options=dict(options),
                     measure=MeasureSettings(min_window_seconds=0.1, windows=3,
                                             max_warmup_windows=1),
                     batch_size=1 if scenario == "serve" else 8)
    return LocalExecutor().run(cell, lambda _cell, _event: None)


def test_save_and_load_in_a_fresh_process_gives_equal_outputs() -> None:
    outcome = run_fake("save-weights")
    assert outcome.status == "ok", outcome.error
    metrics, samples = outcome.payload["metrics"], outcome.payload["samples"]
    assert metrics["max_abs_difference"] == 0.0 and metrics["bit_exact_promised"] == 1.0
    assert metrics["file_bytes"] > 0 and metrics["save_seconds"] > 0
    # One fresh process at smoke size; its own steps all fit inside its wall time.
    [load] = samples["load_seconds"]
    assert load >= samples["load_read_seconds"][0] + samples["load_first_prediction_seconds"][0]


def test_a_load_that_computes_other_outputs_fails_its_cell() -> None:
    outcome = run_fake("save-model", plant_load_difference=1e-3)
    assert outcome.status == "error"
    assert "computes other outputs than the saved one" in outcome.error
    assert "bit for bit" in outcome.error


def test_a_file_that_does_not_load_fails_its_cell_naming_the_format() -> None:
    outcome = run_fake("save-program", plant_load_error=True)
    assert outcome.status == "error"
    assert outcome.error == ("RuntimeError: loading the fake program (.npz) file in a fresh "
                             "process failed: ValueError: planted: cannot read program.npz")


def test_an_export_the_framework_cannot_make_is_unsupported_saying_why() -> None:
    outcome = run_fake("export-onnx")
    assert outcome.status == "unsupported"
    assert outcome.error == "the fake framework has no onnx exporter"
    assert outcome.payload == {}


def test_a_format_no_exporter_of_the_framework_writes_is_unsupported_before_exporting(
) -> None:
    """AOTInductor compiles PyTorch programs only: another framework's cell says so, in the
    worker's words, not in its exporter's."""
    outcome = run_fake("export-aotinductor")
    assert outcome.status == "unsupported"
    assert outcome.error == ("fake has no aotinductor exporter (AOTInductor compiles PyTorch "
                             "programs only)")


def test_an_export_that_computes_other_outputs_still_fails_its_cell() -> None:
    # The same ONNX path, correct: measured; its scores planted off by 0.01: a failure.
    right = run_fake("export-onnx", plant_export_difference=0.0)
    assert right.status == "ok", right.error
    assert right.payload["metrics"]["max_abs_difference"] < 1e-5
    wrong = run_fake("export-onnx", plant_export_difference=1e-2)
    assert wrong.status == "error"
    assert wrong.error.startswith("AssertionError: the onnx export computes other outputs "
                                  "than the framework")


def test_serving_measures_every_load_level_and_leaves_no_server(marker: str) -> None:
    outcome = run_fake("serve")
    assert outcome.status == "ok", outcome.error
    metrics, samples = outcome.payload["metrics"], outcome.payload["samples"]
    for concurrency in (1, 4, 16):
        assert metrics[f"serve_errors_c{concurrency}"] == 0
        assert metrics[f"serve_requests_per_second_c{concurrency}"] > 0
        assert (metrics[f"serve_p50_seconds_c{concurrency}"]
                <= metrics[f"serve_p99_seconds_c{concurrency}"])
    assert len(samples["serve_latency_seconds"]) > 0
    # Every level stops at 1000 requests or at its time bound (5 x 3 windows x 0.1 s).
    assert metrics["serve_level_bound_seconds"] == pytest.approx(1.5)
    counts = [metrics[f"serve_requests_c{c}"] for c in (1, 4, 16)] + samples["poisson_requests"]
    assert all(0 < count <= 1000 for count in counts)
    offered = samples["poisson_offered_rate"]
    assert offered[0] == pytest.approx(0.5 * metrics["serve_requests_per_second_c1"])
    assert len(offered) == len(samples["poisson_p50_seconds"]) == len(samples["poisson_p99_seconds"])
    assert metrics["server_peak_rss_bytes"] > 0 and metrics["server_start_seconds"] > 0
    assert wait_for(lambda: not processes_marked(marker), 5), processes_marked(marker)


def test_an_open_loop_level_without_answers_ends_the_stepping(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A short level at a low rate may see no arrival: its p99 would be NaN, which the store
    refuses (that aborted a whole `run --suite deploy`)."""
    from dlarena import registry
    from dlarena.worker import deployment

    monkeypatch.setattr(deployment.loadgen, "open_loop",
                        lambda *args, **kwargs: loadgen.LoadResult(seconds=0.1))
    cell = fake_cell(scenario="serve", batch_size=1,
                     measure=MeasureSettings(min_window_seconds=0.02, windows=3,
                                             max_warmup_windows=1))
    figures = deployment.run_serve(None, None, registry.workloads()["mlp"],  # type: ignore[arg-type]
                                   cell, lambda *_: None)
    assert figures.samples["poisson_p99_seconds"] == []
    assert "poisson_max_rate_within_bound" not in figures.metrics
    assert all(np.isfinite(value) for value in figures.metrics.values())

def _search(breaks_above: float) -> tuple[dict[str, list[float]], float | None]:
    """The open loop's search against a server that holds (p99 0.1 ms) up to `breaks_above`
    requests/s and breaks (p99 10 s) above, starting at 1 request/s, bound 1 ms."""
    from dlarena.worker.deployment import search_saturation

    def level(rate: float, index: int) -> loadgen.LoadResult:
        latency = 1e-4 if rate <= breaks_above else 10.0
        return loadgen.LoadResult(latencies=[latency] * 1000, seconds=1.0)

    return search_saturation(level, 1.0, 1e-3)


def test_the_open_loop_searches_for_the_saturation_rate() -> None:
    # Climb by 1.5x until a level breaks (5.06), then halve the gap to the last that held
    # (3.375) twice: 4.22 breaks, 3.80 holds.
    levels, held = _search(breaks_above=4.0)
    assert levels["poisson_offered_rate"] == pytest.approx(
        [1, 1.5, 2.25, 3.375, 5.0625, 4.21875, 3.796875])
    assert held == pytest.approx(3.796875)
    assert levels["poisson_requests"] == [1000.0] * 7
    assert levels["poisson_p99_seconds"][4:6] == [10.0, 10.0]


def test_the_open_loop_search_is_bounded_in_levels() -> None:
    levels, held = _search(breaks_above=1e9)  # a server that never saturates
    assert levels["poisson_offered_rate"] == pytest.approx([1.5 ** n for n in range(12)])
    assert held == pytest.approx(1.5 ** 11)
    levels, held = _search(breaks_above=0.0)  # no rate holds: down, bounded in levels
    assert levels["poisson_offered_rate"] == pytest.approx([1.5 ** -n for n in range(12)])
    assert held is None


def test_the_open_loop_steps_down_when_its_first_rate_breaks() -> None:
    # 1 breaks, 0.667 breaks, 0.444 holds; then halve the gap twice: 0.556 holds, 0.611
    # breaks.
    levels, held = _search(breaks_above=0.6)
    assert levels["poisson_offered_rate"] == pytest.approx(
        [1, 1 / 1.5, 1 / 1.5 ** 2, 0.5555556, 0.6111111])
    assert held == pytest.approx(0.5555556)


def _ideal_server_latencies(rate: float, service: float, requests: int, seed: int
                            ) -> list[float]:
    """Latencies from each Poisson arrival at an ideal server that answers one request at a
    time in exactly `service` seconds (M/D/1)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, requests))
    free, latencies = 0.0, []
    for arrival in arrivals:
        free = max(arrival, free) + service
        latencies.append(free - arrival)
    return latencies


@pytest.mark.parametrize("service", [1e-4, 1e-3, 2e-2])
def test_the_open_loop_bound_lets_an_ideal_server_hold_most_of_its_capacity(
        service: float) -> None:
    """Random arrivals queue even at a perfect server; the bound must leave it room: the
    search holds from its first level and finds 60-95% of the capacity (1 / service). (With
    a bound of twice the lone client's p99, every level broke and no rate was found.)"""
    from dlarena.worker.deployment import (
        P99_BOUND_FACTOR,
        START_FACTOR,
        search_saturation,
    )

    def level(rate: float, index: int) -> loadgen.LoadResult:
        return loadgen.LoadResult(
            latencies=_ideal_server_latencies(rate, service, 20_000, index), seconds=1.0)

    lone_p99 = service  # one client at a time never queues
    levels, held = search_saturation(level, START_FACTOR / service, P99_BOUND_FACTOR * lone_p99)
    assert held is not None and levels["poisson_offered_rate"][0] <= held
    assert 0.6 / service <= held <= 0.95 / service, (held * service, levels)


def test_next_rate_climbs_or_falls_then_bisects_then_stops() -> None:
    from dlarena.worker.deployment import next_rate

    assert next_rate(None, None, 10.0, 0) == 15.0  # nothing broke yet: climb
    assert next_rate(10.0, None, 10.0, 0) == 15.0
    assert next_rate(10.0, 15.0, 15.0, 0) == 12.5  # broke: halve the gap
    assert next_rate(12.5, 15.0, 12.5, 1) == 13.75
    assert next_rate(12.5, 13.75, 13.75, 2) is None  # two bisections: done
    assert next_rate(None, 5.0, 5.0, 0) == pytest.approx(5.0 / 1.5)  # first broke: step down
    assert next_rate(None, 5.0, 5.0, 2) == pytest.approx(5.0 / 1.5)  # none held yet


def test_a_server_that_crashes_mid_load_fails_its_cell(marker: str) -> None:
    started = time.monotonic()
    outcome = run_fake("serve", plant_server_crash_after=10)
    assert outcome.status == "error"
    assert "ServerDied: the server exited with code 17 during the closed loop" in outcome.error
    assert time.monotonic() - started < 60  # the load stopped by itself
    assert wait_for(lambda: not processes_marked(marker), 5), processes_marked(marker)


def test_the_server_dies_with_a_killed_cell_worker(marker: str, tmp_path: Path) -> None:
    """SIGKILL the cell's worker while its server runs: the server goes too (its death
    signal, then the worker group's guardian)."""
    from dlarena.cell import worker_request
    from dlarena.executors.local import worker_environment

    cell = fake_cell(scenario="serve", batch_size=1, options={"plant_server_crash_after": 10**9},
                     measure=MeasureSettings(min_window_seconds=5.0, windows=4,
                                             max_warmup_windows=0))
    env = worker_environment(cell.threads, os.environ)
    worker = subprocess.Popen([sys.executable, "-m", "dlarena.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              text=True, start_new_session=True)
    assert worker.stdin is not None
    worker.stdin.write(worker_request(cell) + "\n")
    worker.stdin.flush()
    try:
        def serving() -> bool:
            return any("dlarena.worker" in c and pid != worker.pid
                       for pid, c in processes_marked(marker).items())
        assert wait_for(serving, 30), "the server never started"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()

        def workers() -> list[str]:
            return [c for c in processes_marked(marker).values() if "dlarena.worker" in c]
        assert wait_for(lambda: not workers(), 10), workers()
        worker.stdin.close()  # as a coordinator does: the group's guardian goes too
        assert wait_for(lambda: not processes_marked(marker), 10), processes_marked(marker)
    finally:
        worker.kill()
        if not worker.stdin.closed:
            worker.stdin.close()
        worker.wait()


@pytest.fixture
def server() -> object:
    """The real server class in this process, around a model that takes 5 ms a request."""
    def predict(inputs: np.ndarray) -> np.ndarray:
        time.sleep(0.005)
        return inputs * 2
    instance = _Server(predict, crash_after=None)
    for target in (instance.serve_forever, instance.compute_forever):
        threading.Thread(target=target, daemon=True).start()
    yield instance
    instance.stop_computing()
    instance.shutdown()
    instance.server_close()


def _body() -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ones((1, 3), np.float32))
    return buffer.getvalue()


def test_closed_loop_stops_at_its_request_bound(server: _Server) -> None:
    port = server.server_address[1]
    result = loadgen.closed_loop(loadgen.dlarena_server(port, server.token), _body(), concurrency=4,
                                 max_requests=25, max_seconds=30)
    assert (len(result.latencies), result.errors) == (25, 0)
    assert server.answered == 25
    assert all(latency >= 0.005 for latency in result.latencies)


def test_closed_loop_stops_at_its_time_bound(server: _Server) -> None:
    port = server.server_address[1]
    result = loadgen.closed_loop(loadgen.dlarena_server(port, server.token), _body(), concurrency=1,
                                 max_requests=10**6,
                                 max_seconds=0.3)
    assert 0.3 <= result.seconds < 1.0
    assert 10 <= len(result.latencies) <= 60  # one at a time, 5 ms each


def test_open_loop_latency_counts_the_queue(server: _Server) -> None:
    """Arrivals at 4x what the server can answer: latency grows with the queue."""
    port = server.server_address[1]
    result = loadgen.open_loop(loadgen.dlarena_server(port, server.token), _body(), rate=800.0, max_requests=100,
                               max_seconds=5.0,
                               seed=0)
    assert result.errors == 0 and len(result.latencies) == 100
    assert result.percentile(99) > 10 * 0.005


def test_load_on_a_dead_port_is_errors_not_a_hang() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nobody listens
    started = time.monotonic()
    result = loadgen.closed_loop(loadgen.dlarena_server(port, "t"), _body(), concurrency=4, max_requests=20,
                                 max_seconds=5)
    assert (len(result.latencies), result.errors) == (0, 20)
    assert "ConnectionRefusedError" in result.first_error
    assert time.monotonic() - started < 5


def test_agreement_bit_for_bit_and_within_tolerance() -> None:
    reference = np.array([[1.0, -2.0, 3.0]], np.float32)
    nudged = reference + np.float32(1e-6)
    assert agreement(reference, reference.copy(), exact=True).equal
    assert not agreement(reference, nudged, exact=True).equal
    assert agreement(reference, nudged, exact=False).equal
    far = agreement(reference, reference + 0.01, exact=False)
    assert not far.equal and "exceeds the float32 tolerance" in far.reason
    assert not agreement(reference, reference[:, :2], exact=False).equal
    assert "NaN" in agreement(reference, reference * np.nan, exact=False).reason


FRAMEWORKS_THAT_SHIP = ("torch", "tensorflow", "jax", "keras-jax", "keras-torch")


def test_deploy_suite_plans_every_scenario_for_every_framework_and_keras_backend() -> None:
    from dlarena.cell import ThreadSettings
    from dlarena.engine.plan import Request, build_plan

    planned = build_plan(Request(suite="deploy"), ThreadSettings(1, 1),
                         installed=FRAMEWORKS_THAT_SHIP)
    cells = [p.cell for p in planned]
    assert {c.framework for c in cells} == set(FRAMEWORKS_THAT_SHIP)
    assert {c.workload for c in cells} == {"mlp", "cnn", "resnet50", "transformer"}
    assert {c.scenario for c in cells} == {"save-weights", "save-model", "save-program",
                                           "export-onnx", "export-litert",
                                           "export-aotinductor", "serve", "serve-torchserve"}
    assert {c.batch_size for c in cells if c.scenario.startswith("serve")} == {1}
    assert {c.size for c in cells} == {"cpu"} and "fake" not in {c.framework for c in cells}


def test_an_exported_files_size_counts_its_external_weights(tmp_path: Path) -> None:
    from dlarena.worker.deployment import _size

    (tmp_path / "model.onnx").write_bytes(b"g" * 10)
    (tmp_path / "model.onnx.data").write_bytes(b"w" * 90)
    (tmp_path / "other.bin").write_bytes(b"x" * 1000)
    assert _size(str(tmp_path / "model.onnx")) == 100
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "variables").write_bytes(b"v" * 7)
    assert _size(str(tmp_path / "saved")) == 7


def test_every_framework_of_the_deploy_suite_has_paths_that_import_no_framework() -> None:
    from dlarena import registry
    from dlarena.cell import ThreadSettings
    from dlarena.engine.plan import Request, build_plan

    planned = {p.cell.framework for p in build_plan(
        Request(suite="deploy"), ThreadSettings(1, 1), installed=FRAMEWORKS_THAT_SHIP)}
    assert planned == set(FRAMEWORKS_THAT_SHIP)
    paths = {framework: registry.deployment_path(framework) for framework in sorted(planned)}
    assert None not in paths.values(), paths
    # The coordinator may read these modules: a framework is imported inside their functions.
    code = ("import sys\nfrom dlarena import registry\n"
            f"for path in {sorted(paths.values())!r}:\n    registry.load(path)\n"
            "loaded = {'torch', 'tensorflow', 'jax', 'keras', 'orbax'} & set(sys.modules)\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_a_run_whose_only_misses_are_unsupported_exits_0_and_every_report_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dlarena.cli import main

    db = str(tmp_path / "r.db")
    assert main(["run", "--frameworks", "fake", "--workloads", "mlp", "--size", "smoke",
                 "--scenarios", "save-weights,export-onnx", "--min-window", "0.01",
                 "--windows", "1", "--no-parity", "--db", db]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "unsupported here: the fake framework has no onnx exporter" in out
    assert "1 cell(s) unsupported here" in out
    # Neither a progress line's "failed: …" nor the summary's "worker process(es) failed".
    assert "failed:" not in out and "process(es) failed" not in out
    reports = {}
    for kind in ("markdown", "json", "html"):
        path = tmp_path / f"report.{kind}"
        assert main(["report", "--db", db, "--format", kind, "--out", str(path)]) == 0
        reports[kind] = path.read_text()
    assert ("## Unsupported here (not failures)\n\n- mlp · fake/eager · export-onnx · smoke: "
            "the fake framework has no onnx exporter") in reports["markdown"]
    assert "## Failed cells" not in reports["markdown"]
    assert ("| mlp | fake/eager | ok (max |Δ| 0.0e+00) | unsupported here: the fake "
            "framework has no onnx exporter |") in reports["markdown"].replace("\\|", "|")
    statuses = {cell["scenario"]: (cell["status"], cell["error"])
                for cell in json.loads(reports["json"])["cells"]}
    assert statuses == {"save-weights": ("ok", None),
                        "export-onnx": ("unsupported", "the fake framework has no onnx exporter")}
    assert "Unsupported here (not failures)" in reports["html"]


def test_the_model_computes_on_the_thread_that_serves_not_a_connections(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """PyTorch's intra-op threads are bound to the calling thread (4.5x slower ResNet-50
    predictions from another thread here): `serve` computes on its caller's thread."""
    from dlarena.deploy.server import serve

    computed_on: list[int] = []

    def predict(inputs: np.ndarray) -> np.ndarray:
        computed_on.append(threading.get_ident())
        return inputs * 2

    reader, writer = os.pipe()
    monkeypatch.setattr(sys, "stdin", os.fdopen(reader))

    def load(port: int, token: str) -> None:
        def clients() -> None:
            result = loadgen.closed_loop(loadgen.dlarena_server(port, token), _body(),
                                         concurrency=4, max_requests=40, max_seconds=30)
            assert (len(result.latencies), result.errors) == (40, 0)
            os.close(writer)  # the cell closes the server's stdin: it stops

        threading.Thread(target=clients, daemon=True).start()

    assert serve(predict, on_listening=load) == 40
    assert set(computed_on) == {threading.get_ident()}

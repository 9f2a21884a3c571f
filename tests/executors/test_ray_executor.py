"""The Ray executor on a real Ray cluster: `ray start --head` plus node processes on this
machine (no mock), shared by the module's tests and always stopped, process by process."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dlarena.cell import ThreadSettings
from dlarena.cli.main import main
from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.executors.local import LocalExecutor
from dlarena.store import Store
from dlarena.workloads._user import spec as user_model
from tests.conftest import RecordingObserver, json_report, processes_marked, require, wait_for

pytestmark = [pytest.mark.usefixtures("no_fault"), pytest.mark.slow]  # a Ray cluster

SOURCE = str(Path(__file__).resolve().parents[2] / "src")
ONE_THREAD = ThreadSettings(1, 1)
SMOKE = Request(suite="smoke", frameworks=["fake"], threads=ONE_THREAD,
                min_window_seconds=0.01, windows=3, timeout_seconds=120)
START_SECONDS = 120


@dataclass
class Cluster:
    address: str
    marker: str  # in the environment of every process of the cluster (and their children)
    environment: dict[str, str]

    def add_node(self, name: str, **variables: str) -> str:
        """Start one more node (one CPU, one measuring slot); its own marker."""
        marker = f"{self.marker}-{name}"
        subprocess.run(
            [shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray", "start",
             f"--address={self.address}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
             '--resources={"dlarena_cell": 1}', "--disable-usage-stats"],
            env={**self.environment, "DLARENA_RAY_TEST": marker, **variables},
            check=True, capture_output=True, timeout=START_SECONDS)
        return marker


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(marker: str) -> None:
    """Every process of ours, by pid: never `ray stop`, which stops every Ray on the machine."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for pid in processes_marked(marker):
            with contextlib.suppress(ProcessLookupError):  # gone meanwhile
                os.kill(pid, sig)
        wait_for(lambda: not processes_marked(marker), wait)


def _reread_ray_token() -> None:
    """Ray reads its authentication settings once per process: where another test of this
    process imported Ray first, have it read them again (as Ray's own tests do)."""
    if "ray" in sys.modules:
        from ray._private.authentication_test_utils import reset_auth_token_state
        reset_auth_token_state()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    marker = f"dlarena-ray-test-{secrets.token_hex(6)}"
    temp = tempfile.mkdtemp(prefix="rdl-", dir="/tmp")  # Ray's socket paths must stay short
    # A private token: Ray's servers listen beyond loopback, so nobody else may join.
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    environment = {**os.environ, **auth, "PYTHONPATH": SOURCE, "RAY_USAGE_STATS_ENABLED": "0"}
    address = f"127.0.0.1:{_free_port()}"
    saved = {name: os.environ.get(name) for name in auth}
    # The coordinator (this process) joins with it.
    os.environ.update(auth)
    _reread_ray_token()
    try:
        require("ray")
        subprocess.run(
            [shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray", "start",
             "--head", "--node-ip-address=127.0.0.1", f"--port={address.split(':')[1]}",
             "--num-cpus=1", '--resources={"dlarena_cell": 1}', "--include-dashboard=false",
             "--disable-usage-stats", f"--temp-dir={temp}"],
            env={**environment, "DLARENA_RAY_TEST": f"{marker}-head"}, check=True,
            capture_output=True, timeout=START_SECONDS)
        cluster = Cluster(address, marker, environment)
        cluster.add_node("b")
        yield cluster
    finally:
        _stop(marker)
        # Ray starts its runtime-env agent without the marker; it has the cluster's token.
        _stop(auth["RAY_AUTH_TOKEN"])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reread_ray_token()
        shutil.rmtree(temp, ignore_errors=True)
    assert not processes_marked(marker), "a process of the test cluster outlived it"
    assert not processes_marked(auth["RAY_AUTH_TOKEN"]), "an agent of the test cluster lived on"


def test_a_node_killed_mid_run_fails_its_cell_with_the_reason_and_the_run_goes_on(
        cluster: Cluster, tmp_path: Path) -> None:
    from dlarena.executors.ray import RayExecutor

    # Node c hangs every cell it takes, so it is surely measuring when it is killed.
    doomed = cluster.add_node("c", DLARENA_FAKE_FAULT="hang")
    killed: list[int] = []

    def kill_node_when_it_measures() -> None:
        def measuring() -> bool:
            return any("dlarena.worker" in command
                       for command in processes_marked(doomed).values())
        if wait_for(measuring, 90):
            for pid, command in processes_marked(doomed).items():
                if "raylet" in command.split()[0]:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)

    killer = threading.Thread(target=kill_node_when_it_measures)
    killer.start()
    store = Store.open(tmp_path / "r.db")
    executor = RayExecutor(address=cluster.address)
    try:
        assert executor.slots == 3
        started = time.monotonic()
        summary = run(SMOKE, store=store, executor=executor, interpreters={},
                      observer=RecordingObserver())
        killer.join()
        assert killed, "node c never measured a cell"
        assert time.monotonic() - started < 110  # not the hung cell's 120 s timeout
        assert (summary.measured, summary.failed) == (4, 1)
        [lost] = [c for c in store.cells(summary.run_id) if not c.ok]
        assert "lost on the Ray cluster" in (lost.error or "")
        assert "node" in (lost.error or "").lower()
        # Nothing of the killed cell outlives it: its worker process dies with its node.
        assert wait_for(lambda: not any("dlarena.worker" in command for command
                                        in processes_marked(doomed).values()), 30)
        assert wait_for(lambda: executor.live_nodes() == 2, 60)  # the cluster saw it die
    finally:
        executor.close()
        _stop(doomed)
    # Resume on what is left of the cluster: only the lost cell is measured again.
    executor = RayExecutor(address=cluster.address)
    try:
        assert executor.slots == 2
        again = run(SMOKE, store=store, executor=executor, interpreters={},
                    observer=RecordingObserver())
        assert (again.run_id, again.measured, again.skipped, again.failed) \
            == (summary.run_id, 1, 3, 0)
        assert all(cell.ok for cell in store.cells(summary.run_id))
    finally:
        executor.close()
        store.close()


def test_a_cluster_without_the_machine_asked_for_is_a_usage_error(
        cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--suite", "smoke", "--frameworks", "fake", "--executor", "ray",
                 "--address", cluster.address, "--ray-machine", "gpu-box", "--threads", "1",
                 "--db", str(tmp_path / "r.db")])
    error = capsys.readouterr().err
    assert code == 2 and "offers dlarena_cell, gpu-box" in error
    assert '"gpu-box": 1' in error and not (tmp_path / "r.db").exists()


TINY_TORCH_MODEL = """
import torch

def build():
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    return model, torch.zeros(8, 6)
"""


def test_a_users_model_is_measured_on_the_nodes(
        cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--model on a cluster: each task carries the coordinator's description of the model,
    so the node's worker measures it (the node's own environment names no model)."""
    require("torch")
    # `main` makes the model this process's workload: unset again after the test.
    monkeypatch.setenv(user_model.ENVIRONMENT_VARIABLE, "")
    script = tmp_path / "tiny.py"
    script.write_text(TINY_TORCH_MODEL)
    db = tmp_path / "r.db"
    code = main(["run", "--model", f"{script}:build", "--frameworks", "torch", "--modes",
                 "eager", "--scenarios", "infer", "--size", "smoke", "--threads", "1",
                 "--windows", "2", "--min-window", "0.05", "--no-until-decided", "--no-parity",
                 "--executor", "ray", "--address", cluster.address, "--db", str(db)])
    assert db.exists(), capsys.readouterr().err
    cells = json_report(db)["cells"]
    assert cells and all(cell["status"] == "ok" for cell in cells), cells
    assert code == 0
    assert {cell["workload"] for cell in cells} == {"tiny"}
    assert all(cell["manifest"]["model_source"] == f"{script}:build" for cell in cells), cells


def test_address_without_the_ray_executor_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--suite", "smoke", "--frameworks", "fake", "--address", "x:1",
                 "--db", str(tmp_path / "r.db")]) == 2
    assert "--address and --ray-machine need --executor ray" in capsys.readouterr().err


def test_smoke_on_a_local_ray_cluster_gives_the_same_cells_as_the_local_executor(
        cluster: Cluster, tmp_path: Path) -> None:
    # The private cluster runs with the shared cluster's token (the fixture set it).
    from dlarena.executors.ray import RayExecutor

    stores = {}
    for name in ("local", "ray"):
        store = Store.open(tmp_path / f"{name}.db")
        executor = LocalExecutor() if name == "local" else RayExecutor()  # a private cluster
        try:
            summary = run(SMOKE, store=store, executor=executor, interpreters={},
                          observer=RecordingObserver())
            assert (summary.measured, summary.failed) == (4, 0)
            stores[name] = {c.spec.key: c for c in store.cells(summary.run_id)}
        finally:
            executor.close()
            store.close()
    assert stores["ray"].keys() == stores["local"].keys()
    for cell in stores["ray"].values():
        assert cell.ok and cell.details[0]["executor"] == "ray" and cell.details[0]["node"]
        assert cell.samples["peak_rss_bytes"] and len(
            cell.samples[f"{cell.spec.scenario}_throughput"]) == 3

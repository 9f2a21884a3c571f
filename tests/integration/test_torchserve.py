"""TorchServe serving a real PyTorch model (mlp, smoke size) under the serve cell's load:
every level answered, TorchServe's own per-request figures read, nothing left running; a
model of another framework is a row that says why (deploy/torchserve.py)."""

from __future__ import annotations

import statistics
import uuid
from typing import Any

import pytest

from dlarena.cell import MeasureSettings
from dlarena.deploy import torchserve
from dlarena.executors.local import LocalExecutor
from dlarena.worker.deployment import BREAKDOWN_REQUESTS
from tests.conftest import fake_cell, processes_marked, require, wait_for

pytestmark = pytest.mark.frameworks
SMOKE = MeasureSettings(min_window_seconds=0.05, windows=3, max_warmup_windows=1)


@pytest.fixture
def marker(monkeypatch: pytest.MonkeyPatch) -> str:
    """In the environment of every process of the cell (Java's and its backend's too)."""
    value = f"dlarena-torchserve-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("DLARENA_TEST_MARKER", value)
    return value


def served(framework: str, mode: str) -> Any:
    require(framework)
    require("ts")
    cell = fake_cell(framework=framework, mode=mode, workload="mlp",
                     scenario="serve-torchserve", measure=SMOKE, timeout_seconds=300.0,
                     batch_size=1)
    return LocalExecutor().run(cell, lambda _cell, _event: None)


def test_torchserve_serves_the_model_under_load_and_leaves_nothing(marker: str) -> None:
    outcome = served("torch", "eager")
    reason = torchserve.unavailable()
    if reason is not None:  # no Java 11+ here: the row says so
        assert (outcome.status, outcome.error) == ("unsupported", reason)
        return
    assert outcome.status == "ok", outcome.error
    metrics, samples = outcome.payload["metrics"], outcome.payload["samples"]
    assert all(metrics[f"serve_errors_c{c}"] == 0 for c in (1, 4, 16))
    assert metrics["serve_requests_per_second_c16"] > 0
    # The Java front end and the Python backend with PyTorch loaded.
    assert metrics["server_peak_rss_bytes"] > 200 * 2**20
    assert outcome.payload["manifest"]["server"] == f"TorchServe {torchserve.version()}"
    client = samples["torchserve_client_seconds"]
    # As many as a level's time bound allows (0.75 s here), each one counted by TorchServe.
    assert 20 <= len(client) <= BREAKDOWN_REQUESTS
    for part in ("frontend", "queue", "handler"):
        assert len(samples[f"torchserve_{part}_seconds"]) == len(client), part
    median = {part: statistics.median(samples[f"torchserve_{part}_seconds"])
              for part in ("client", "frontend", "handler")}
    # Each figure holds the next: the client's wait, the front end's, the handler's.
    assert median["handler"] < median["frontend"] < median["client"], median
    assert wait_for(lambda: not processes_marked(marker), 15), processes_marked(marker)


def test_a_model_of_another_framework_is_a_row_that_says_why() -> None:
    outcome = served("tensorflow", "function")
    assert outcome.status == "unsupported", outcome.error
    assert outcome.error.startswith("TorchServe serves PyTorch models; tensorflow has")

"""The devex suite on real PyTorch and TensorFlow: mlp in eager and default modes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import dlarena
from dlarena.cell import ThreadSettings
from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.executors.local import LocalExecutor
from dlarena.store import Store
from tests.conftest import RecordingObserver, require

pytestmark = pytest.mark.frameworks
FRAMEWORKS = ("torch", "tensorflow")
SOURCE = Path(dlarena.__file__).parent


def _tree_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SOURCE.rglob("*.py")):
        digest.update(path.as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_devex_cells_measure_mistakes_and_the_debugger_and_touch_no_real_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for framework in FRAMEWORKS:
        require(framework)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the workers' scratch copies go here
    before = _tree_digest()
    store = Store.open(tmp_path / "r.db")
    request = Request(suite="devex", frameworks=list(FRAMEWORKS), workloads=["mlp"],
                      modes=["eager", "default"], threads=ThreadSettings(1, 1))
    summary = run(request, store=store, executor=LocalExecutor(), interpreters={},
                  observer=RecordingObserver())
    cells = {c.spec.framework + "/" + c.spec.mode: c for c in store.cells(summary.run_id)}
    assert summary.failed == 0, [c.error for c in cells.values() if not c.ok]
    assert set(cells) == {"torch/eager", "tensorflow/eager", "tensorflow/function"}
    assert _tree_digest() == before
    assert [p for p in scratch.iterdir() if p.name.startswith("dlarena-devex-")] == []

    details: dict[str, Any] = {label: c.details[0]["scenario_details"]
                               for label, c in cells.items()}
    probes = {label: d["debugger"] for label, d in details.items()}
    # Eager: every step stops with numbers; tf.function: once, while tracing, symbolically.
    for label in ("torch/eager", "tensorflow/eager"):
        assert (probes[label]["stops"], probes[label]["concrete_stops"]) == (3, 3), label
    function = probes["tensorflow/function"]
    assert (function["stops"], function["concrete_stops"], function["seen"]) == (
        1, 0, "symbolic")

    mistakes = {label: {r["mistake"]: r for r in d["mistakes"]} for label, d in details.items()}
    for label in cells:
        assert mistakes[label]["class_count"]["raised"], label
        assert all(r["plantable"] for r in mistakes[label].values())
    width = mistakes["torch/eager"]["dense_width"]
    assert width["raised"] and width["stage"] == "first step"
    assert width["innermost_user_frame"].startswith("dlarena/frameworks/torch/model.py:")
    assert "64x65" in width["message"]
    # Keras infers a layer's input width: the wider layer trains, as a bigger model.
    silent = mistakes["tensorflow/eager"]["dense_width"]
    assert not silent["raised"] and silent["trainable_parameters"] > silent[
        "expected_parameters"]
    for cell in cells.values():
        assert cell.samples["code_tokens"][0] > 50

"""The devex suite on real PyTorch, TensorFlow and JAX: mlp and cnn in eager and default
modes, 8 planted mistakes each."""

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
FRAMEWORKS = ("torch", "tensorflow", "jax")
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
    request = Request(suite="devex", frameworks=list(FRAMEWORKS), workloads=["mlp", "cnn"],
                      modes=["eager", "default"], threads=ThreadSettings(1, 1))
    summary = run(request, store=store, executor=LocalExecutor(), interpreters={},
                  observer=RecordingObserver())
    cells = {f"{c.spec.framework}/{c.spec.mode} {c.spec.workload}": c
             for c in store.cells(summary.run_id)}
    assert summary.failed == 0, [c.error for c in cells.values() if not c.ok]
    assert set(cells) == {f"{label} {workload}" for workload in ("mlp", "cnn") for label in (
        "torch/eager", "tensorflow/eager", "tensorflow/function", "jax/eager", "jax/jit")}
    assert _tree_digest() == before
    assert [p for p in scratch.iterdir() if p.name.startswith("dlarena-devex-")] == []

    details: dict[str, Any] = {label: c.details[0]["scenario_details"]
                               for label, c in cells.items()}
    probes = {label: d["debugger"] for label, d in details.items()}
    # Eager: every step stops with numbers; tf.function and jax.jit: once, while tracing,
    # symbolically. JAX's probe stops in the workload's own Flax module.
    for label in ("torch/eager mlp", "tensorflow/eager mlp", "jax/eager mlp"):
        assert (probes[label]["stops"], probes[label]["concrete_stops"]) == (3, 3), label
    for label in ("tensorflow/function mlp", "jax/jit mlp"):
        assert (probes[label]["stops"], probes[label]["concrete_stops"],
                probes[label]["seen"]) == (1, 0, "symbolic"), label
    assert probes["jax/jit mlp"]["forward"].startswith("Mlp.__call__ (jax.py:")

    mistakes = {label: {r["mistake"]: r for r in d["mistakes"]} for label, d in details.items()}
    for label in cells:
        assert len(mistakes[label]) >= 8 and all(r["plantable"] for r in mistakes[label].values())
        # No framework trains on a batch with one label fewer than inputs.
        assert mistakes[label]["label_count"]["raised"], label
    for workload in ("mlp", "cnn"):
        assert mistakes[f"torch/eager {workload}"]["class_count"]["raised"]
        assert mistakes[f"tensorflow/function {workload}"]["class_count"]["raised"]
    width = mistakes["torch/eager mlp"]["dense_width"]
    assert width["raised"] and width["stage"] == "first step"
    assert width["innermost_user_frame"].startswith("dlarena/frameworks/torch/model.py:")
    assert "64x65" in width["message"]
    assert mistakes["torch/eager cnn"]["conv_width"]["raised"]
    # Keras and Flax infer a layer's input width: the wider layer trains, as a bigger model,
    # and the mistake of two disagreeing widths cannot be made there.
    for label, name in (("tensorflow/eager mlp", "dense_width"), ("jax/jit mlp", "dense_width"),
                        ("tensorflow/function cnn", "conv_width"), ("jax/jit cnn", "conv_width")):
        inferred = mistakes[label][name]
        assert not inferred["raised"] and inferred["cannot_be_made"], label
        assert inferred["trainable_parameters"] > inferred["expected_parameters"]
    for cell in cells.values():
        assert cell.samples["code_tokens"][0] > 50

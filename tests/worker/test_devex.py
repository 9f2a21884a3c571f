"""The devex pieces on literal inputs: code size, planting, traceback reading, the probe, and
a devex run of the fake framework through real worker processes."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

import dlarena
from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.executors.local import LocalExecutor
from dlarena.store import Store
from dlarena.worker.devex import scenario as devex_scenario
from dlarena.worker.devex.codesize import measure_source
from dlarena.worker.devex.mistakes import MISTAKES, Mistake, Planted
from dlarena.worker.devex.probe import CONCRETE, SYMBOLIC, probe
from dlarena.worker.devex.tracebacks import read_error
from tests.conftest import RecordingObserver, fake_cell

SOURCE = Path(dlarena.__file__).parent
IMPLEMENTATIONS = sorted((SOURCE / "workloads").glob("*/*.py"))
# Implementations that return the shared chain of workloads/sequential.py (contract.chain
# ChainBuilt): not written in their framework's API, so devex refuses them.
CHAIN_BUILT = re.compile(r"^    def chain\(self\) -> list\[Layer\]:$", re.MULTILINE)


def written_in_the_api(path: Path) -> bool:
    return (path.name not in ("spec.py", "__init__.py")
            and CHAIN_BUILT.search(path.read_text()) is None)

EXAMPLE = '''"""A docstring that is not code."""

import json
from somelib import nn
import otherlib as ol
from dlarena.frameworks.x.model import Base, helper


class Block(nn.Module):
    pass


class Implementation(Base):
    def channels_last(self) -> bool:
        return False

    def build_model(self) -> ol.Model:
        """Also not code."""
        # a comment
        layers = ol.layers
        x = layers.ZeroPadding2D(1)(json.loads("1"))
        y = nn.Linear(2, 3).forward(x).transpose(0, 1)
        return ol.Sequential([layers.Dense(3), nn.ReLU()])
'''


def test_code_size_counts_code_only_and_names_the_framework_api_by_its_imports() -> None:
    size = measure_source(EXAMPLE)
    # 4 imports, class Block + pass, class Implementation, 2 defs with 1 + 4 statements.
    assert size.lines == 14 and size.logical_lines == 14
    assert size.api_names == ("otherlib.Sequential", "otherlib.layers.Dense",
                              "otherlib.layers.ZeroPadding2D", "somelib.nn.Linear",
                              "somelib.nn.Module", "somelib.nn.ReLU")  # no annotation, no json
    # ZeroPadding2D, Linear, Sequential, Dense, ReLU (`.forward` is called on a layer)
    assert size.api_calls == 5
    assert size.padding_calls == 1 and size.layout_calls == 1
    assert size.helper_classes == ("Block",) and size.extra_methods == ("channels_last",)
    assert size.engine_helpers == ("Base", "helper")
    assert size.metrics()["code_api_names"] == 6


def test_code_size_reads_every_implementation_in_the_tree() -> None:
    written = [path for path in IMPLEMENTATIONS if written_in_the_api(path)]
    assert {path.stem for path in written} >= {"torch", "keras", "jax"}
    for path in written:
        size = measure_source(path.read_text())
        assert size.lines > 5 and size.api_names, path
    # The others are the frameworks built from the shared chain, and nothing else.
    chained = {path.stem for path in IMPLEMENTATIONS
               if path.name not in ("spec.py", "__init__.py") and not written_in_the_api(path)}
    assert chained == {"mxnet", "paddle", "chainer"}


def test_devex_refuses_an_implementation_built_from_the_shared_chain() -> None:
    class Chained:
        def chain(self) -> list[object]:
            return []

    with pytest.raises(LookupError, match="not code written in mxnet's API"):
        devex_scenario.run_devex(Chained(), None, None,  # type: ignore[arg-type]
                                 fake_cell(framework="mxnet"), lambda *_: None)


def _digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


@pytest.mark.parametrize("workload", sorted(MISTAKES))
def test_every_mistake_is_planted_in_a_copy_on_the_line_it_names(workload: str) -> None:
    """At least 8 mistakes per workload, each plantable in every framework's file."""
    assert len(MISTAKES[workload]) >= 8
    assert len({mistake.name for mistake in MISTAKES[workload]}) == len(MISTAKES[workload])
    before = _digest(IMPLEMENTATIONS)
    implementations = [p for p in (SOURCE / "workloads" / workload).glob("*.py")
                       if written_in_the_api(p)]
    assert {path.stem for path in implementations} >= {"torch", "keras", "jax"}
    for path in implementations:
        for mistake in MISTAKES[workload]:
            planted = mistake.plant(path.read_text())
            assert planted is not None, (path, mistake.name)
            compile(planted.source, str(path), "exec")
            line = planted.source.splitlines()[planted.line - 1].strip()
            assert line == planted.text and line not in path.read_text().splitlines()
    assert _digest(IMPLEMENTATIONS) == before


def test_a_mistake_is_planted_where_the_model_is_defined_beside_implementation() -> None:
    source = ("from spec import CLASSES, HIDDEN\n\n\nclass Model:\n"
              "    def __call__(self, x):\n        return dense(HIDDEN[1])(dense(CLASSES)(x))\n"
              "\n\nclass Implementation:\n    def build_model(self):\n        return Model()\n")
    width, classes = MISTAKES["mlp"][:2]
    planted = width.plant(source)
    assert planted is not None and planted.line == 6
    assert planted.text == "return dense((HIDDEN[1] + 1))(dense(CLASSES)(x))"
    planted = classes.plant(source)
    assert planted is not None and "dense((CLASSES - 1))" in planted.text


def test_a_file_without_the_mistakes_place_is_not_plantable() -> None:
    assert all(m.plant("class Other:\n    x = 1\n") is None for m in MISTAKES["mlp"])
    width = MISTAKES["mlp"][0]
    assert width.plant("class Implementation:\n    width = 3\n") is None


def _user_code(tmp_path: Path) -> tuple[Path, object]:
    """A scratch 'implementation' whose line 5 calls into the standard library wrongly."""
    path = tmp_path / "impl.py"
    path.write_text("import json\n\n\ndef step():\n    return json.loads('not json')\n")
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return path, namespace["step"]


def test_a_traceback_is_read_from_the_innermost_user_frame_down(tmp_path: Path) -> None:
    path, step = _user_code(tmp_path)
    try:
        step()  # type: ignore[operator]
    except ValueError as error:
        reading = read_error(error, user_roots={str(tmp_path): "scratch:"}, harness=__file__,
                             mistake_file=str(path), mistake_line=5)
    assert reading.error_type == "JSONDecodeError"
    assert reading.innermost_user_frame == "scratch:impl.py:5 step"
    assert reading.at_mistake and reading.names_mistake_line
    # json.loads -> decoder.decode -> raw_decode: standard-library frames below the user's.
    assert reading.internal_frames_below == 3 and reading.frames == 4
    assert reading.internal_lines_below >= 2 * reading.internal_frames_below
    assert reading.message_chars == len("Expecting value: line 1 column 1 (char 0)")


def test_a_traceback_elsewhere_is_not_at_the_mistake(tmp_path: Path) -> None:
    path, step = _user_code(tmp_path)
    try:
        step()  # type: ignore[operator]
    except ValueError as error:
        reading = read_error(error, user_roots={str(tmp_path): "scratch:"}, harness=__file__,
                             mistake_file=str(path), mistake_line=2)
    assert not reading.at_mistake and not reading.names_mistake_line


def _forward(self: object, inputs: object) -> object:
    return inputs


def test_the_probe_stops_in_the_forward_and_tells_numbers_from_symbols() -> None:
    def steps() -> None:
        _forward(None, np.ones(3))

    concrete = probe(_forward.__code__, steps, 3, np.asarray)
    assert (concrete.stops, concrete.concrete_stops, concrete.seen) == (3, 3, CONCRETE)
    assert concrete.value_type == "ndarray"

    def refuse(value: object) -> object:
        raise TypeError("a symbolic tensor has no value")

    symbolic = probe(_forward.__code__, steps, 2, refuse)
    assert (symbolic.stops, symbolic.concrete_stops, symbolic.seen) == (2, 0, SYMBOLIC)

    never = probe(_forward.__code__, lambda: None, 3, np.asarray)
    assert (never.stops, never.seen) == (0, None)


def test_a_crash_inside_a_planted_cell_leaves_no_copy_and_the_real_file_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real = SOURCE / "workloads" / "mlp" / "spec.py"
    before = real.read_bytes()

    def plant(source: str) -> Planted:
        text = "class Implementation:\n    def __init__(self, *args):\n" \
               "        raise KeyboardInterrupt  # the cell dies here\n"
        return Planted(text, 3, "raise KeyboardInterrupt")

    crash = Mistake("crash", "dies mid-cell", plant)
    with pytest.raises(KeyboardInterrupt):
        devex_scenario.plant_and_run(crash, real, fake_cell(scenario="devex"), None,  # type: ignore[arg-type]
                                     None)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    assert real.read_bytes() == before


@pytest.mark.usefixtures("no_fault")
def test_a_devex_run_of_the_fake_stores_counts_and_skips_the_same_model_check(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    observer = RecordingObserver()
    summary = run(Request(suite="devex", frameworks=["fake"], workloads=["mlp", "cnn"]),
                  store=store, executor=LocalExecutor(), interpreters={}, observer=observer)
    assert (summary.measured, summary.failed) == (3, 0)  # mlp in both modes, cnn eager
    assert not [kind for kind, _ in observer.events if kind in ("checking", "checked")]
    for cell in store.cells(summary.run_id):
        details = cell.details[0]["scenario_details"]
        assert details["implementation"] == "frameworks/fake/model.py"
        assert cell.samples["code_lines"][0] > 10
        assert details["debugger"] is None  # the fake names no forward pass
        planted = details["mistakes"]
        assert [r["plantable"] for r in planted] == [False] * len(MISTAKES[cell.spec.workload])
        json.dumps(details)

from __future__ import annotations

import dataclasses

import pytest

from dlarena.cell import CellSpec, MeasureSettings, ThreadSettings
from tests.conftest import FAST, fake_cell


def test_json_round_trip_keeps_every_field() -> None:
    cell = fake_cell(options={"note": "x"}, seed=7)
    assert CellSpec.from_json(cell.to_json()) == cell


def test_key_is_stable_and_ignores_only_the_timeout_and_the_calibration_start() -> None:
    cell = fake_cell()
    assert cell.key == fake_cell().key
    assert fake_cell(timeout_seconds=5.0).key == cell.key
    # How fast a later process reaches its windows does not change what it measures.
    assert fake_cell(measure=dataclasses.replace(FAST, start_steps=64)).key == cell.key
    assert fake_cell(measure=dataclasses.replace(FAST, windows=4)).key != cell.key
    assert fake_cell(batch_size=16).key != cell.key
    assert fake_cell(threads=ThreadSettings(2, 1)).key != cell.key
    assert fake_cell(mode="compiled").key != cell.key


def test_protocol_version_mismatch_is_refused() -> None:
    text = fake_cell().to_json().replace('"protocol": 1', '"protocol": 99')
    with pytest.raises(ValueError, match="protocol"):
        CellSpec.from_json(text)


@pytest.mark.parametrize("batch", [0, -3])
def test_batch_size_must_be_positive(batch: int) -> None:
    with pytest.raises(ValueError, match="batch size"):
        fake_cell(batch_size=batch)


def test_thread_environment_names_every_library() -> None:
    env = ThreadSettings(intra_op=3, inter_op=2).environment()
    assert env["OMP_NUM_THREADS"] == "3"
    assert env["MKL_NUM_THREADS"] == "3"
    assert env["OPENBLAS_NUM_THREADS"] == "3"


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        ThreadSettings(0, 1)
    with pytest.raises(ValueError):
        MeasureSettings(min_window_seconds=0, windows=3, max_warmup_windows=1)
    with pytest.raises(ValueError):
        MeasureSettings(min_window_seconds=0.1, windows=0, max_warmup_windows=1)

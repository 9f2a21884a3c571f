from __future__ import annotations

from pathlib import Path

import pytest

from dlarena.report.tensorboard import crc32c, read_scalars, write_scalars
from tests.conftest import require


def test_crc32c_of_the_standard_check_string() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def test_scalars_round_trip(tmp_path: Path) -> None:
    scalars = [("loss/train", 1, 2.5), ("loss/train", 2, 1.25), ("accuracy/val", 2, 0.875)]
    path = write_scalars(tmp_path / "run", scalars, wall_time=1_800_000_000.0)
    assert path.name.startswith("events.out.tfevents.1800000000.")
    assert read_scalars(path) == scalars


@pytest.mark.slow  # imports TensorBoard
def test_tensorboard_itself_reads_the_file(tmp_path: Path) -> None:
    accumulator_module = require(
        "tensorboard.backend.event_processing.event_accumulator")
    write_scalars(tmp_path, [("loss", step, 1.0 / step) for step in range(1, 6)])
    accumulator = accumulator_module.EventAccumulator(str(tmp_path))
    accumulator.Reload()
    events = accumulator.Scalars("loss")
    assert [e.step for e in events] == [1, 2, 3, 4, 5]
    assert events[-1].value == pytest.approx(0.2)


def test_corruption_is_detected(tmp_path: Path) -> None:
    path = write_scalars(tmp_path, [("loss", 1, 1.0)])
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        read_scalars(path)

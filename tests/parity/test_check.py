"""How parity probes share the machine: side by side, each with its share of the threads."""

from __future__ import annotations

import pytest

from dlarena.cell import ThreadSettings
from dlarena.parity import check
from dlarena.parity.check import MAX_PARALLEL_PROBES, probe_sharing


@pytest.mark.parametrize(("cores", "variants", "threads", "expected"), [
    (2, 3, ThreadSettings(2, 2), (2, ThreadSettings(1, 1))),
    (2, 3, ThreadSettings(1, 1), (2, ThreadSettings(1, 1))),
    (16, 3, ThreadSettings(8, 4), (3, ThreadSettings(2, 1))),
    (16, 9, ThreadSettings(8, 8), (MAX_PARALLEL_PROBES, ThreadSettings(2, 2))),
    (1, 3, ThreadSettings(1, 1), (1, ThreadSettings(1, 1))),
    (None, 2, ThreadSettings(4, 2), (1, ThreadSettings(4, 2))),
])
def test_probes_run_side_by_side_on_their_share_of_the_threads(
        monkeypatch: pytest.MonkeyPatch, cores: int | None, variants: int,
        threads: ThreadSettings, expected: tuple[int, ThreadSettings]) -> None:
    monkeypatch.setattr(check.os, "cpu_count", lambda: cores)
    assert probe_sharing(variants, threads) == expected

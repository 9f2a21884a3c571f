"""The data scenarios' verdict and process accounting, without a framework."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from dlarena.registry import workloads
from dlarena.scenarios import pipelines
from dlarena.worker import dataload


def test_input_bound_below_nine_tenths_of_the_in_memory_rate() -> None:
    assert pipelines.input_bound(89.9, 100.0)
    assert not pipelines.input_bound(90.0, 100.0)
    assert not pipelines.input_bound(120.0, 100.0)


def test_an_interval_is_input_bound_only_wholly_below_nine_tenths() -> None:
    verdict = pipelines.input_bound_verdict
    assert verdict((0.5, 0.89), 0.7) == pipelines.BOUND
    assert verdict((0.9, 1.2), 1.0) == pipelines.KEEPS_UP
    assert verdict((0.8, 0.95), 0.87) == pipelines.UNDECIDED  # straddles 0.9
    assert verdict(None, 0.5) == pipelines.BOUND  # one process each: the ratio alone


def test_image_side_of_image_workloads_and_a_clear_refusal_of_others() -> None:
    assert dataload.image_side(workloads()["cnn"], "cpu") == 32
    assert dataload.image_side(workloads()["resnet50"], "cpu") == 64
    with pytest.raises(ValueError, match="image workloads only"):
        dataload.image_side(workloads()["mlp"], "smoke")


def test_the_process_tree_counts_children() -> None:
    alone = dataload.tree_rss_bytes()
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(60 << 20); "
                              "b[::4096] = b'x' * len(b[::4096]); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while dataload.tree_rss_bytes() < alone + (50 << 20):
            assert time.monotonic() < deadline, "the child's memory never showed"
            time.sleep(0.05)
        assert dataload.tree_cpu_seconds() > 0
    finally:
        child.kill()
        child.wait()

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

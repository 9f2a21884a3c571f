"""Keras on JAX and PyTorch, the parts that need neither: thread flags, availability."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import subprocess
import sys

import pytest

from dlarena import registry
from dlarena.engine import environment
from tests.conftest import require

_MANIFEST = """
import json, sys
from dlarena import registry
from dlarena.cell import ThreadSettings
runtime = registry.runtime_class(sys.argv[1])()
runtime.setup(threads=ThreadSettings(1, 1), seed=0, device="cpu")
manifest = runtime.manifest()
print(json.dumps({key: manifest.get(key) for key in
                  ("intra_op_threads", "inter_op_threads", "thread_control", "xla_flags")}))
"""


@pytest.mark.frameworks
def test_keras_on_jax_limits_and_reads_back_threads_as_jax_does() -> None:
    """XLA:CPU ignores thread-count flags: both frameworks on it are limited by CPU affinity
    and report the CPUs the process could use, so "Keras on JAX vs JAX" compares processes
    limited alike."""
    require("jax")
    found = {}
    for framework in ("jax", "keras-jax"):
        result = subprocess.run([sys.executable, "-c", _MANIFEST, framework],
                                capture_output=True, text=True, check=True)
        found[framework] = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["jax"] == found["keras-jax"]
    assert found["jax"]["intra_op_threads"] == 1
    assert found["jax"]["thread_control"].startswith("CPU affinity")
    assert found["jax"]["xla_flags"].endswith("--xla_cpu_multi_thread_eigen=false")


def test_a_keras_backend_is_installed_only_with_its_backend() -> None:
    assert registry.frameworks()["keras-jax"].requires == ("jax",)
    assert registry.frameworks()["keras-torch"].requires == ("torch",)
    planted = dataclasses.replace(registry.frameworks()["keras-jax"], distributions=("numpy",),
                                  requires=("pytest",))
    assert environment.framework_version(planted) == importlib.metadata.version("numpy")
    missing = dataclasses.replace(planted, requires=("pytest", "no-such-distribution-dlarena"))
    assert environment.framework_version(missing) is None


def test_another_interpreters_probe_also_requires_the_backend() -> None:
    def probe(*arguments: str) -> str:
        return subprocess.run([sys.executable, "-c", environment._PROBE, *arguments],
                              capture_output=True, text=True, check=True).stdout.strip()

    numpy_version = importlib.metadata.version("numpy")
    assert probe("--", "no-such-distribution-dlarena", "numpy") == numpy_version
    assert probe("numpy", "--", "numpy") == numpy_version
    assert probe("no-such-distribution-dlarena", "--", "numpy") == ""

"""Keras on JAX and PyTorch, the parts that need neither: thread flags, availability."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import subprocess
import sys

from dlarena import registry
from dlarena.cell import ThreadSettings
from dlarena.engine import environment
from dlarena.frameworks.keras_jax.runtime import xla_thread_flags


def test_xla_gets_one_thread_without_its_eigen_pool_and_more_with_it() -> None:
    assert xla_thread_flags(ThreadSettings(1, 1)) == (
        "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    assert xla_thread_flags(ThreadSettings(4, 2)) == (
        "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=4")


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

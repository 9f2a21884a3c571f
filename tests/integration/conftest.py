"""Fixtures shared by the in-process framework tests."""

from __future__ import annotations

from typing import Any

import pytest

from dlarena import registry
from dlarena.cell import ThreadSettings
from tests.conftest import require


@pytest.fixture(scope="session")
def runtimes() -> dict[str, Any]:
    """One runtime per framework for the whole session, set up before any in-process test
    touches the framework: threads can be set once per process (TensorFlow refuses another
    value after its first op, e.g. a tf.data pipeline built by another test module)."""
    built = {}
    for framework in ("torch", "tensorflow"):
        require(framework)
        runtime = registry.runtime_class(framework)()
        runtime.setup(threads=ThreadSettings(1, 1), seed=0, device="cpu")
        built[framework] = runtime
    return built

"""A dependency that `make` installs may be skipped locally but never in CI."""

from __future__ import annotations

import pytest

from tests.conftest import require


def test_a_missing_dependency_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="installed by `make`"):
        require("dlarena_no_such_module")
    assert require("numpy").__name__ == "numpy"


def test_a_missing_dependency_is_skipped_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require("dlarena_no_such_module")

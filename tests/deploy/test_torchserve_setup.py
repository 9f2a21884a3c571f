"""TorchServe's set-up without starting it: every listener on 127.0.0.1, the Java release
read from `java -version`, a clear reason when TorchServe cannot run here, and the
per-request figures read from its metrics logs (deploy/torchserve.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dlarena.deploy import torchserve
from tests.conftest import require


def _fake_java(folder: Path, says: str) -> Path:
    """A `java` that prints `says` on stderr, as `java -version` does."""
    binary = folder / "bin" / "java"
    binary.parent.mkdir(parents=True)
    binary.write_text(f"#!/bin/sh\necho '{says}' >&2\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def test_every_listener_is_on_loopback_on_its_own_port() -> None:
    from dlarena.isolation.processes import free_loopback_ports

    ports = torchserve.Ports(*free_loopback_ports(5))
    assert len(set(vars(ports).values())) == 5
    lines = dict(line.split("=", 1) for line in
                 torchserve.configuration(ports, "/store").splitlines())
    addresses = {key: value for key, value in lines.items() if key.endswith("_address")}
    assert set(addresses) == {"inference_address", "management_address", "metrics_address",
                              "grpc_inference_address", "grpc_management_address"}
    assert all(value.removeprefix("http://").startswith("127.0.0.1")
               for value in addresses.values())
    assert lines["inference_address"] == f"http://127.0.0.1:{ports.inference}"
    assert lines["grpc_inference_port"] == str(ports.grpc_inference)
    assert lines["default_workers_per_model"] == "1"


@pytest.mark.parametrize(("says", "release"), [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('java version "1.8.0_292"', 8),
    ('openjdk version "21" 2023-09-19', 21),
    ("no version here", None),
])
def test_the_java_release_is_read_from_java_version(tmp_path: Path, says: str,
                                                    release: int | None) -> None:
    assert torchserve.java_release(str(_fake_java(tmp_path, says))) == release


def test_an_old_or_missing_java_is_a_reason_not_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require("ts")
    require("model_archiver")
    _fake_java(tmp_path / "old", 'java version "1.8.0_292"')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "old"))
    reason = torchserve.unavailable()
    assert reason is not None and "needs Java 11 or newer" in reason and "release 8" in reason
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "none"))
    reason = torchserve.unavailable()
    assert reason is not None and "none was found" in reason


def test_per_request_figures_are_read_after_a_position_in_seconds(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()

    def log(name: str, *lines: str) -> None:
        with open(logs / name, "a") as file:
            file.writelines(f"2026-12-07T08:51:33,054 - {line}|#model_name:m\n" for line in lines)

    log("ts_metrics.log", "ts_inference_latency_microseconds.Microseconds:9999.0")
    log("model_metrics.log", "PredictionTime.ms:99.0")
    since = torchserve.log_position(str(logs))
    assert since == {name: os.path.getsize(logs / name) for name in since}
    log("ts_metrics.log", "ts_inference_latency_microseconds.Microseconds:2590.5",
        "ts_queue_latency_microseconds.Microseconds:43.0", "Requests2XX.Count:1.0")
    log("model_metrics.log", "PredictionTime.ms:0.27")
    figures = torchserve.request_figures(str(logs), since)
    assert figures == {"torchserve_frontend_seconds": [pytest.approx(2590.5e-6)],
                       "torchserve_queue_seconds": [pytest.approx(43e-6)],
                       "torchserve_handler_seconds": [pytest.approx(0.27e-3)]}

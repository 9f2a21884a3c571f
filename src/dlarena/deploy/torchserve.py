"""TorchServe, PyTorch's model server, serving a cell's model on 127.0.0.1.

The `serve-torchserve` cell puts the very model that dlarena's own small server answers with
(worker/main.py `serving_predict`: the cell's implementation, its canonical weights, the
same `.npy` in and out) behind TorchServe instead: a Java front end (Netty) that queues each
request and hands it over a Unix socket to a Python backend worker, which runs the handler
(`worker/torchserve_handler.py`). Only the server differs from the `serve` cell, so the two rows
compare the servers.

TorchServe is started the way its `torchserve` command starts it (the same Java command,
`ts/model_server.py`), but directly: that command keeps a machine-wide pid file in /tmp and
refuses a second server, which would let two cells (or another user's server) collide.
Everything it writes goes inside the cell's scratch folder (private, 0700): the model store,
`config.properties`, its logs, its Unix sockets (`java.io.tmpdir`) and `key_file.json`,
the keys of its token authorization (on by default since 0.11). Every address it opens is
127.0.0.1 on a port the kernel chose free: inference, management, metrics and both gRPC
ports. Only a request with the inference key is answered; one without is refused by the
front end (HTTP 400), which, unlike dlarena's server, does not count them for the cell.
The Java process is in the cell worker's process group and dies with the worker (parent
death signal); its Python backend exits when the front end's socket closes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import IO

from dlarena.cell import CellSpec
from dlarena.deploy.load import Target
from dlarena.isolation import lifeline
from dlarena.isolation.processes import free_loopback_ports, tree

MODEL_NAME = "dlarena"
# The Java release TorchServe 0.12's front end needs.
JAVA_MIN = 11
# The cell's model, for the handler: a file beside it in the model's folder.
CELL_FILE = "cell.json"
STOP_GRACE_SECONDS = 10.0
LOG_TAIL = 3000
# The handler TorchServe imports: it only defers to dlarena's.
_HANDLER = "from dlarena.worker.torchserve_handler import handle  # noqa: F401\n"


# TorchServe's metrics logs (log4j, under LOG_LOCATION) and the per-request figures read from
# them: log -> figure's name in the log -> (dlarena's name, to seconds).
_FIGURES: dict[str, dict[str, str]] = {
    "ts_metrics.log": {"ts_inference_latency_microseconds": "torchserve_frontend_seconds",
                       "ts_queue_latency_microseconds": "torchserve_queue_seconds"},
    "model_metrics.log": {"PredictionTime": "torchserve_handler_seconds"},
}
_SCALES = {"ts_inference_latency_microseconds": 1e-6, "ts_queue_latency_microseconds": 1e-6,
           "PredictionTime": 1e-3}
_PATTERNS = {log: {re.compile(rf"\b{re.escape(figure)}\.\w+:([0-9.]+)\|"): (name, _SCALES[figure])
                   for figure, name in names.items()}
             for log, names in _FIGURES.items()}


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def log_position(logs: str) -> dict[str, int]:
    """Where each metrics log in the folder `logs` ends now, in bytes (0: not written yet)."""
    return {name: _size(os.path.join(logs, name)) for name in _FIGURES}


def request_figures(logs: str, since: dict[str, int]) -> dict[str, list[float]]:
    """TorchServe's own per-request figures logged in `logs` after `since`, in seconds: the
    front end's inference latency and queue time, the handler's prediction time."""
    found: dict[str, list[float]] = {name: [] for names in _FIGURES.values()
                                     for name in names.values()}
    for log in _FIGURES:
        with contextlib.suppress(FileNotFoundError), open(
                os.path.join(logs, log), errors="replace") as file:
            file.seek(since[log])
            for line in file:
                for pattern, (name, scale) in _PATTERNS[log].items():
                    value = pattern.search(line)
                    if value is not None:
                        found[name].append(float(value.group(1)) * scale)
    return found


class TorchServeFailed(RuntimeError):
    """TorchServe could not be set up, or exited."""


def java() -> str | None:
    """The `java` TorchServe's command would run: JAVA_HOME's, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        found = os.path.join(home, "bin", "java")
        return found if os.access(found, os.X_OK) else None
    return shutil.which("java")


def java_release(binary: str) -> int | None:
    """The major release of a `java` binary (17 for "17.0.15"; 8 for "1.8.0"), None when
    it does not say."""
    try:
        done = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def unavailable() -> str | None:
    """Why TorchServe cannot serve here, or None when it can."""
    for module in ("ts", "model_archiver"):
        if importlib.util.find_spec(module) is None:
            return (f"TorchServe is not installed (its Python module {module} is missing; it "
                    "comes with dlarena's `deploy` extra)")
    binary = java()
    if binary is None:
        return (f"TorchServe's front end is Java (release {JAVA_MIN} or newer), and none was "
                "found (JAVA_HOME, or `java` on PATH)")
    release = java_release(binary)
    if release is None or release < JAVA_MIN:
        return (f"TorchServe's front end needs Java {JAVA_MIN} or newer; {binary} is "
                f"{'of an unknown release' if release is None else f'release {release}'}")
    return None


@dataclasses.dataclass(frozen=True)
class Ports:
    inference: int
    management: int
    metrics: int
    grpc_inference: int
    grpc_management: int


def configuration(ports: Ports, store: str) -> str:
    """`config.properties`: every listener on 127.0.0.1, one backend worker, the model loaded
    at start; TorchServe's defaults otherwise (token authorization, its logging)."""
    lines = {
        "inference_address": f"http://127.0.0.1:{ports.inference}",
        "management_address": f"http://127.0.0.1:{ports.management}",
        "metrics_address": f"http://127.0.0.1:{ports.metrics}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_management_address": "127.0.0.1",
        "grpc_inference_port": str(ports.grpc_inference),
        "grpc_management_port": str(ports.grpc_management),
        "model_store": store,
        "load_models": MODEL_NAME,
        # One backend worker computes one request at a time, as dlarena's server does.
        "default_workers_per_model": "1",
        "install_py_dep_per_model": "false",
        # Its own CPU and memory sampling, a Python process every minute: not the model's.
        "disable_system_metrics": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


class TorchServe:
    """TorchServe serving `cell`'s model from `folder` until `close` (a context manager)."""

    def __init__(self, cell: CellSpec, folder: str) -> None:
        binary = java()
        if binary is None:
            raise TorchServeFailed("no java")
        self.folder = folder
        self.started = time.perf_counter()
        model, store = os.path.join(folder, "model"), os.path.join(folder, "store")
        for path in (model, store, os.path.join(folder, "tmp")):
            os.makedirs(path)
        with open(os.path.join(model, "handler.py"), "w") as file:
            file.write(_HANDLER)
        with open(os.path.join(model, CELL_FILE), "w") as file:
            json.dump(dataclasses.asdict(cell), file)
        # The model archive, as torch-model-archiver writes it (a folder: no zip to unpack).
        archived = subprocess.run(
            [sys.executable, "-m", "model_archiver.model_packaging", "--model-name", MODEL_NAME,
             "--version", "1.0", "--handler", os.path.join(model, "handler.py"),
             "--extra-files", os.path.join(model, CELL_FILE), "--export-path", store,
             "--archive-format", "no-archive"],
            capture_output=True, text=True, timeout=120, check=False)
        if archived.returncode != 0:
            raise TorchServeFailed(f"TorchServe's model archiver failed: "
                                   f"{archived.stderr[-500:]}")
        self.ports = Ports(*free_loopback_ports(5))
        config = os.path.join(folder, "config.properties")
        with open(config, "w") as file:
            file.write(configuration(self.ports, store))
        home = _home()
        self._log: IO[str] = open(os.path.join(folder, "torchserve.log"), "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [binary, f"-Dmodel_server_home={home}",
             f"-Djava.io.tmpdir={os.path.join(folder, 'tmp')}",
             "-cp", f".:{os.path.join(home, 'ts', 'frontend', '*')}",
             "org.pytorch.serve.ModelServer", "--python", sys.executable, "-f", config,
             "-s", store, "-ncs"],
            cwd=folder, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "LOG_LOCATION": os.path.join(folder, "logs"),
                 "METRICS_LOCATION": os.path.join(folder, "logs")},
            preexec_fn=lifeline.set_parent_death_signal)  # a JVM: no Python to call it

    def target(self, timeout: float) -> Target:
        """Where the load goes, once TorchServe has written its inference key."""
        keys = os.path.join(self.folder, "key_file.json")
        deadline = time.perf_counter() + timeout
        while True:
            with contextlib.suppress(OSError, ValueError, KeyError):
                with open(keys) as file:
                    key = str(json.load(file)["inference"]["key"])
                return Target(self.ports.inference, {"Authorization": f"Bearer {key}"},
                              f"/predictions/{MODEL_NAME}")
            if self.exit_code() is not None:
                raise TorchServeFailed(f"TorchServe exited with code {self.exit_code()} "
                                       f"before it wrote its keys: {self.log_tail()}")
            if time.perf_counter() > deadline:
                raise TorchServeFailed(f"TorchServe wrote no keys within {timeout:g} s: "
                                       f"{self.log_tail()}")
            time.sleep(0.05)

    def log_position(self) -> dict[str, int]:
        """Where TorchServe's metrics logs end now (`request_figures` reads what follows)."""
        return log_position(os.path.join(self.folder, "logs"))

    def request_figures(self, since: dict[str, int]) -> dict[str, list[float]]:
        return request_figures(os.path.join(self.folder, "logs"), since)

    def exit_code(self) -> int | None:
        return self.process.poll()

    def log_tail(self) -> str:
        """The end of the front end's log (the backend's output is in it: MODEL_LOG)."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-LOG_TAIL:].strip()

    def processes(self) -> list[int]:
        """The Java front end and the processes it started (the Python backend)."""
        return tree(self.process.pid)

    def close(self) -> None:
        """Stop the front end (SIGTERM: it stops its backend), then kill what lingers."""
        # Before the stop: once the front end has exited, its backend is no longer below it.
        started = self.processes()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in started[1:]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()

    def __enter__(self) -> TorchServe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _home() -> str:
    """TorchServe's home as its command computes it: the folder that holds the installed
    `ts` package (the front end's jar is in `ts/frontend`)."""
    spec = importlib.util.find_spec("ts")
    if spec is None or not spec.submodule_search_locations:
        raise TorchServeFailed("torchserve is not installed")
    return os.path.dirname(next(iter(spec.submodule_search_locations)))


def version() -> str:
    """TorchServe's version, as its package states it."""
    from importlib.metadata import version as installed

    return installed("torchserve")


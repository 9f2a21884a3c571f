"""The load generator, in the spirit of MLPerf Inference's server scenarios.

Closed loop: `concurrency` clients, each sending its next request when the last is answered.
Open loop: requests arrive as a Poisson process at a set rate, whatever the server's pace;
latency counts from the scheduled arrival, so a slow server's queue is in the figures (no
coordinated omission). Every load is bounded in requests and in time and stops by itself.
Every request carries what the server's `Target` names: dlarena's own server's token
(deploy/server.py), or TorchServe's inference key (deploy/torchserve.py). Standard library
and NumPy only; it talks to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from dlarena.deploy.server import TOKEN_HEADER

HOST = "127.0.0.1"
# One request's limit: a server that hangs makes errors, not a hung cell.
REQUEST_TIMEOUT_SECONDS = 30.0
# Open loop: the most requests in flight; arrivals beyond wait in the client's queue (and
# their latency counts that wait).
OPEN_LOOP_CLIENTS = 32


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    # The first error's words, for a failing cell's reason.
    first_error: str = ""

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")


@dataclass(frozen=True)
class Target:
    """A model server on 127.0.0.1: its port, the path that predicts (a `.npy` body in, a
    `.npy` body out) and the headers that authorise a request."""

    port: int
    headers: Mapping[str, str]
    predict_path: str = "/predict"


def dlarena_server(port: int, token: str) -> Target:
    """dlarena's own small server (deploy/server.py), which checks its token."""
    return Target(port, {TOKEN_HEADER: token})


class _Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> None:
        self.send("POST", self.target.predict_path, body)

    def send(self, method: str, path: str, body: bytes | None = None) -> bytes:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(HOST, self.target.port,
                                                         timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            self.connection.request(method, path, body,
                                    {"Content-Type": "application/octet-stream",
                                     **self.target.headers})
            response = self.connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.status != 200:
            self.close()  # the server closes a connection it refused
            raise RuntimeError(f"HTTP {response.status}: {answer[:200]!r}")
        return answer

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.result = LoadResult()

    def success(self, latency: float) -> None:
        with self.lock:
            self.result.latencies.append(latency)

    def failure(self, error: BaseException) -> None:
        with self.lock:
            self.result.errors += 1
            if not self.result.first_error:
                self.result.first_error = f"{type(error).__name__}: {error}"


def post_once(target: Target, body: bytes) -> None:
    client = _Client(target)
    try:
        client.post(body)
    finally:
        client.close()


def server_stats(target: Target) -> dict[str, int]:
    """What dlarena's server saw: requests answered, connections closed as foreign."""
    client = _Client(target)
    try:
        stats: dict[str, int] = json.loads(client.send("GET", "/stats"))
        return stats
    finally:
        client.close()


def closed_loop(target: Target, body: bytes, *, concurrency: int, max_requests: int,
                max_seconds: float) -> LoadResult:
    tally = _Tally()
    issued = [0]
    start = time.perf_counter()
    deadline = start + max_seconds

    def client_loop() -> None:
        client = _Client(target)
        try:
            while True:
                with tally.lock:
                    if issued[0] >= max_requests or time.perf_counter() >= deadline:
                        return
                    issued[0] += 1
                sent = time.perf_counter()
                try:
                    client.post(body)
                except Exception as error:
                    tally.failure(error)
                    continue
                tally.success(time.perf_counter() - sent)
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + REQUEST_TIMEOUT_SECONDS)
    tally.result.seconds = time.perf_counter() - start
    return tally.result


def open_loop(target: Target, body: bytes, *, rate: float, max_requests: int,
              max_seconds: float, seed: int) -> LoadResult:
    """Poisson arrivals at `rate` per second, until `max_requests` or `max_seconds`."""
    if rate <= 0:
        raise ValueError(f"arrival rate must be > 0, got {rate}")
    gaps = np.random.default_rng(seed).exponential(1.0 / rate, max_requests)
    arrivals = [float(t) for t in np.cumsum(gaps) if t < max_seconds]
    tally = _Tally()
    scheduled: queue.Queue[float | None] = queue.Queue()
    start = time.perf_counter()
    # A server that falls behind leaves a queue; what is still queued then is an error.
    hard_deadline = start + 2 * max_seconds

    def client_loop() -> None:
        client = _Client(target)
        try:
            while (due := scheduled.get()) is not None:
                if time.perf_counter() > hard_deadline:
                    tally.failure(TimeoutError("not sent within the load's time bound"))
                    continue
                try:
                    client.post(body)
                except Exception as error:
                    tally.failure(error)
                    continue
                tally.success(time.perf_counter() - due)
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, daemon=True)
               for _ in range(OPEN_LOOP_CLIENTS)]
    for thread in threads:
        thread.start()
    for offset in arrivals:
        due = start + offset
        time.sleep(max(0.0, due - time.perf_counter()))
        scheduled.put(due)
    for _ in threads:
        scheduled.put(None)
    for thread in threads:
        thread.join(max(0.0, hard_deadline - time.perf_counter()) + REQUEST_TIMEOUT_SECONDS)
    tally.result.seconds = time.perf_counter() - start
    return tally.result

"""The small model server: the same HTTP server for every framework, on 127.0.0.1 only.

POST /predict with a batch as a NumPy `.npy` body answers the outputs as `.npy`; GET /health
answers 200; GET /stats answers what the server saw, as JSON. One request computes at a time:
every framework gets the same single-model, no-batching server, so the framework is the only
difference. It serves until its stdin ends (the cell closed it or died), then shuts down.

The model computes on the thread that called `serve` (the one that built it), never on a
connection's thread: the connection threads parse requests and hand each to that thread
(`compute_forever`). PyTorch's intra-op parallelism (OpenMP) is bound to the calling thread:
ResNet-50 (cpu size, batch 1, 2 threads) took 3.0 ms a prediction on the thread that set the
thread count and 13.6 ms on another (4.5x), so a thread-per-connection server served it at
77 requests/s where this one serves 160 (one client; 2026-12-07; TorchServe, whose Python
backend calls the model on its main thread, answered faster than the old server did). The
hand-over costs ~0.09 ms a request (a trivial model, one client: p50 383 → 469 µs).

Loopback is not private: any local user can connect. So only the cell's own load generator
is served: every request carries the server's random token (`TOKEN_HEADER`, handed to the
cell over the child's stdout pipe), checked before a body is read. A connection that never
shows the token, stays silent past `CONNECTION_TIMEOUT_SECONDS`, or comes beyond
`MAX_CONNECTIONS` is closed and counted as foreign; a body over `MAX_BODY_BYTES` is refused
unread. The cell reads the count (`/stats`) and fails rather than store figures that other
traffic disturbed.
"""

from __future__ import annotations

import hmac
import io
import json
import os
import queue
import secrets
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from dlarena.contract import Predict

HOST = "127.0.0.1"
TOKEN_HEADER = "X-Dlarena-Token"
# One input batch of the largest workload at full size is under 1 MB.
MAX_BODY_BYTES = 64 * 2**20
# Before it shows the token, a connection may be silent this long (then it is closed).
CONNECTION_TIMEOUT_SECONDS = 10.0
# The load generator holds at most 32 connections (its open loop) at once.
MAX_CONNECTIONS = 64
# Planted fault for the tests: the server process exits abruptly after this many answers.
CRASH_AFTER_OPTION = "plant_server_crash_after"
CRASH_EXIT_CODE = 17


class _Job:
    """One request's inputs, handed to the computing thread, and its outputs or error."""

    def __init__(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        self.outputs: np.ndarray | None = None
        self.error: Exception | None = None
        self.done = threading.Event()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # 16 clients connecting at once overflow the default backlog of 5 (a 1 s SYN retry).
    request_queue_size = 128

    def __init__(self, predict: Predict, crash_after: int | None, *,
                 token: str | None = None) -> None:
        super().__init__((HOST, 0), _Handler)
        self.predict = predict
        self.crash_after = crash_after
        self.token = token or secrets.token_hex(16)
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.answered = 0
        self.foreign = 0  # connections closed for not being the load generator's
        self._tally = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def compute(self, inputs: np.ndarray) -> np.ndarray:
        """From a connection's thread: the model's outputs, computed by `compute_forever`."""
        job = _Job(inputs)
        self.jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.outputs is not None
        return job.outputs

    def compute_forever(self) -> None:
        """Compute each request's outputs, one at a time, on this thread, until
        `stop_computing`."""
        while (job := self.jobs.get()) is not None:
            if self.crash_after is not None and self.answered >= self.crash_after:
                os._exit(CRASH_EXIT_CODE)
            try:
                job.outputs = self.predict(job.inputs)
                self.answered += 1
            except Exception as error:  # a bad request is the client's answer, not a crash
                job.error = error
            finally:
                job.done.set()

    def stop_computing(self) -> None:
        self.jobs.put(None)

    def count_foreign(self) -> None:
        with self._tally:
            self.foreign += 1

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread per connection, up to `MAX_CONNECTIONS`; one more is closed at once."""
        if not self._slots.acquire(blocking=False):
            self.count_foreign()
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client thread
    # Headers and body go out in two writes: with Nagle's algorithm and delayed ACKs each
    # answer would wait ~40 ms.
    disable_nagle_algorithm = True
    timeout = CONNECTION_TIMEOUT_SECONDS  # set on the socket by StreamRequestHandler
    server: _Server
    authenticated = False

    def log_message(self, format: str, *args: object) -> None:
        pass  # no line per request on stderr

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if not self.authenticated:
                self.server.count_foreign()

    def _answer(self, status: int, body: bytes, kind: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, status: int, words: str) -> None:
        """Answer and close: whatever body the request announced is never read."""
        self.close_connection = True
        self._answer(status, words.encode(), "text/plain")

    def _authorised(self) -> bool:
        shown = self.headers.get(TOKEN_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(shown, self.server.token.encode()):
            self._refuse(403, "forbidden")
            return False
        if not self.authenticated:
            self.authenticated = True
            # The load generator's own connection may wait between its arrivals.
            self.connection.settimeout(None)
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path == "/health":
            self._answer(200, b"ok", "text/plain")
        elif self.path == "/stats":
            stats = {"answered": self.server.answered, "foreign": self.server.foreign}
            self._answer(200, json.dumps(stats).encode(), "application/json")
        else:
            self._answer(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path != "/predict":
            self._refuse(404, "not found")
            return
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._refuse(413, f"a body of at most {MAX_BODY_BYTES} bytes, with its length")
            return
        try:
            body = self.rfile.read(int(length))
            outputs = self.server.compute(np.load(io.BytesIO(body), allow_pickle=False))
        except Exception as error:  # a bad request is the client's answer, not a crash
            self._answer(500, f"{type(error).__name__}: {error}".encode(), "text/plain")
            return
        buffer = io.BytesIO()
        np.save(buffer, outputs, allow_pickle=False)
        self._answer(200, buffer.getvalue())


def serve(predict: Predict, *, on_listening: Callable[[int, str], None],
          crash_after: int | None = None) -> int:
    """Serve on a free loopback port until stdin ends; `on_listening(port, token)` hands the
    token to the cell. Returns the requests answered."""
    server = _Server(predict, crash_after)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()

    def until_stdin_ends() -> None:
        try:
            while sys.stdin.read(65536):
                pass
        except OSError:
            pass
        server.stop_computing()

    threading.Thread(target=until_stdin_ends, daemon=True).start()
    try:
        on_listening(server.server_address[1], server.token)
        server.compute_forever()
    finally:
        server.shutdown()
        server.server_close()
    return server.answered

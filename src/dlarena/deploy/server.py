"""The small model server: the same HTTP server for every framework, on 127.0.0.1 only.

POST /predict with a batch as a NumPy `.npy` body answers the outputs as `.npy`; GET /health
answers 200. One request computes at a time (a lock around the model): every framework gets
the same single-model, no-batching server, so the framework is the only difference. It
serves until its stdin ends (the cell closed it or died), then shuts down.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from dlarena.contract import Predict

HOST = "127.0.0.1"
# Planted fault for the tests: the server process exits abruptly after this many answers.
CRASH_AFTER_OPTION = "plant_server_crash_after"
CRASH_EXIT_CODE = 17


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # 16 clients connecting at once overflow the default backlog of 5 (a 1 s SYN retry).
    request_queue_size = 128

    def __init__(self, predict: Predict, crash_after: int | None) -> None:
        super().__init__((HOST, 0), _Handler)
        self.predict = predict
        self.crash_after = crash_after
        self.lock = threading.Lock()
        self.answered = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client thread
    # Headers and body go out in two writes: with Nagle's algorithm and delayed ACKs each
    # answer would wait ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # no line per request on stderr

    def _answer(self, status: int, body: bytes, kind: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._answer(200, b"ok", "text/plain")
        else:
            self._answer(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        if self.path != "/predict":
            self._answer(404, b"not found", "text/plain")
            return
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            inputs = np.load(io.BytesIO(body), allow_pickle=False)
            server = self.server
            with server.lock:
                if server.crash_after is not None and server.answered >= server.crash_after:
                    os._exit(CRASH_EXIT_CODE)
                outputs = server.predict(inputs)
                server.answered += 1
        except Exception as error:  # a bad request is the client's answer, not a crash
            self._answer(500, f"{type(error).__name__}: {error}".encode(), "text/plain")
            return
        buffer = io.BytesIO()
        np.save(buffer, outputs, allow_pickle=False)
        self._answer(200, buffer.getvalue())


def serve(predict: Predict, *, on_listening: Callable[[int], None],
          crash_after: int | None = None) -> int:
    """Serve on a free loopback port until stdin ends; returns the requests answered."""
    server = _Server(predict, crash_after)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        on_listening(server.server_address[1])
        try:
            while sys.stdin.read(65536):
                pass
        except OSError:
            pass
    finally:
        server.shutdown()
        server.server_close()
    return server.answered

"""The model server serves its cell's load generator and nothing else: any other local
program is refused before its body is read, cannot hold a thread past a timeout or beyond a
connection cap, and a cell whose server saw such traffic fails instead of storing figures."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from dlarena.deploy import load as loadgen
from dlarena.deploy import server as server_module
from dlarena.deploy.server import TOKEN_HEADER, _Server
from tests.deploy.test_deploy import _body, run_fake

pytestmark = pytest.mark.usefixtures("no_fault")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.setattr(server_module._Handler, "timeout", 0.5)
    instance = _Server(lambda inputs: inputs * 2, crash_after=None)
    threading.Thread(target=instance.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    threading.Thread(target=instance.compute_forever, daemon=True).start()
    yield instance
    instance.stop_computing()
    instance.shutdown()
    instance.server_close()


def request(port: int, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("POST", "/predict", body, headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def eventually(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    """Whether `condition` holds within `seconds`: a bound against a hang only, far above
    what the server needs (its handlers time out after 0.5 s), so a busy machine that runs
    the handler threads late does not fail the test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def settled(server: _Server, foreign: int) -> bool:
    return eventually(lambda: server.foreign == foreign)


def test_a_request_without_the_token_is_refused_and_counted(server: _Server) -> None:
    port = server.server_address[1]
    assert request(port, {})[0] == 403
    assert request(port, {TOKEN_HEADER: "guess"}, _body())[0] == 403
    assert settled(server, 2) and server.answered == 0
    assert request(port, {TOKEN_HEADER: server.token}, _body())[0] == 200
    assert loadgen.server_stats(loadgen.dlarena_server(port, server.token)) == {"answered": 1, "foreign": 2}


def test_a_huge_body_is_refused_unread(server: _Server) -> None:
    """A 300 MB Content-Length: answered at once, nothing read, with or without the token."""
    port = server.server_address[1]
    for headers in ({}, {TOKEN_HEADER: server.token}):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            started = time.monotonic()
            client.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n"
                           + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
                           + b"\r\n" + b"\0" * 65536)
            answer = client.recv(200)
            assert time.monotonic() - started < 2
        assert answer.split()[1] in (b"403", b"413")
    assert b"413" in answer and server.answered == 0


def test_a_silent_connection_is_closed_after_the_timeout(server: _Server) -> None:
    port = server.server_address[1]
    threads = threading.active_count()
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        assert settled(server, 20), server.foreign  # closed after 0.5 s, each counted
        assert eventually(lambda: threading.active_count() <= threads + 1), (
            threading.active_count(), threads)
        assert silent[0].recv(1) == b""  # the server hung up
    finally:
        for client in silent:
            client.close()


def test_connections_beyond_the_cap_are_closed_at_once(
        server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module._Handler, "timeout", 30)
    port = server.server_address[1]
    threads = threading.active_count()
    held = [socket.create_connection(("127.0.0.1", port))
            for _ in range(server_module.MAX_CONNECTIONS + 30)]
    try:
        assert settled(server, 30), server.foreign
        # At once, not eventually: held connections keep their threads for 30 s.
        assert threading.active_count() <= threads + server_module.MAX_CONNECTIONS + 1
    finally:
        for client in held:
            client.close()


def test_the_load_generator_is_served_and_may_wait_past_the_timeout(server: _Server) -> None:
    port = server.server_address[1]
    result = loadgen.closed_loop(loadgen.dlarena_server(port, server.token), _body(), concurrency=16,
                                 max_requests=200, max_seconds=10)
    assert (len(result.latencies), result.errors) == (200, 0)
    client = loadgen._Client(loadgen.dlarena_server(port, server.token))
    try:
        client.post(_body())
        time.sleep(1.0)  # twice the timeout: an open loop's client waits for its arrival
        client.post(_body())
    finally:
        client.close()
    assert server.answered == 202 and settled(server, 0)


def test_a_cell_whose_server_saw_foreign_traffic_stores_no_figures() -> None:
    outcome = run_fake("serve", plant_foreign_request=True)
    assert outcome.status == "error"
    assert "ServerDisturbed: the server closed 1 connection(s) that were not this cell's" \
        in outcome.error
    assert "serve_requests_per_second_c1" not in outcome.payload.get("metrics", {})

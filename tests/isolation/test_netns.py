"""The private network namespace of a worker whose framework listens on every interface."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from dlarena.isolation import netns

INSIDE = """
import socket, sys
from dlarena.isolation import netns
netns.enter()
print(",".join(netns.interfaces()), flush=True)
server = socket.socket()
server.bind(("0.0.0.0", 0))  # every interface, as TensorFlow's gRPC server binds
server.listen()
print(server.getsockname()[1], flush=True)
with socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=5):
    print("reached inside", flush=True)
sys.stdin.readline()  # listening until the test has tried from outside
"""


def test_a_port_bound_to_every_interface_inside_is_reachable_only_inside() -> None:
    process = subprocess.Popen(netns.command([sys.executable, "-c", INSIDE]),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdin is not None
        interfaces = process.stdout.readline().strip()
        port = process.stdout.readline().strip()
        assert interfaces == "lo", (interfaces, process.stderr.read() if process.stderr else "")
        assert process.stdout.readline().strip() == "reached inside"
        with socket.socket() as outside:
            outside.settimeout(5)
            assert outside.connect_ex(("127.0.0.1", int(port))) != 0  # refused out here
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()


def test_outside_a_private_namespace_the_worker_refuses_to_go_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "interfaces", lambda: ["lo", "eth0"])
    with pytest.raises(netns.PrivateNetworkUnavailable, match="eth0: it would listen on them"):
        netns.enter()

"""What a cell needs around the servers and children it starts: free loopback ports for them
to listen on, and the processes below a process (to measure or end them). Linux /proc; the
standard library only."""

from __future__ import annotations

import socket
from pathlib import Path


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free now (held open together, so none repeats)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def tree(pid: int) -> list[int]:
    """`pid` and every process below it, now (/proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:
                continue  # the task ended while we looked
    return found


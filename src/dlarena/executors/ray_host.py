"""The private Ray cluster's host: runs inside the network and process namespaces that
`ray_private.Host` starts it in (`python -m dlarena.executors.ray_host`), drives a
`RayExecutor` there and answers the coordinator over its stdout pipe. Apart from
`ray_private` so that the executor and the host's client import each other in no circle."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
from dataclasses import asdict
from typing import IO, Any

from dlarena.cell import CellSpec
from dlarena.executors.base import CellOutcome
from dlarena.isolation import netns


def _serve(channel: IO[str]) -> None:
    from dlarena.executors.ray import RayExecutor

    setup = json.loads(sys.stdin.readline())
    write_lock = threading.Lock()

    def answer(message: dict[str, Any]) -> None:
        with write_lock:
            channel.write(json.dumps(message) + "\n")
            channel.flush()

    executor = RayExecutor(setup["interpreters"], machine=setup["machine"],
                           scratch=os.path.join(setup["scratch"], "r"))
    answer({"ready": executor.slots})

    def run(message: dict[str, Any]) -> None:
        cell = CellSpec.from_json(message["cell"])
        outcome: CellOutcome = executor.run(cell, lambda _cell, _event: None,
                                            replicate=int(message["replicate"]))
        fields = asdict(outcome)
        fields.pop("cell")
        answer({"id": message["id"], "outcome": fields})

    try:
        for line in sys.stdin:
            message = json.loads(line)
            if message.get("cancel"):
                executor.cancel()
            else:
                threading.Thread(target=run, args=(message,), daemon=True).start()
    finally:
        executor.close()
        shutil.rmtree(setup["scratch"], ignore_errors=True)  # the coordinator may be gone


def main() -> int:
    # The protocol keeps the real stdout; anything Ray prints goes to stderr.
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        netns.enter()
        _serve(channel)
    except Exception as error:
        with contextlib.suppress(OSError, ValueError):
            channel.write(json.dumps({"error": f"{type(error).__name__}: {error}"}) + "\n")
            channel.flush()
        return 1
    return 0


if __name__ == "__main__":
    # The first process of its process namespace: what it leaves running, the kernel ends.
    os._exit(main())

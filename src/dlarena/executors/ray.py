"""Run cells on a Ray cluster: each cell a Ray task that runs the local executor on its node.

A node measures one cell at a time: every node that takes cells offers the custom resource
`SLOT` once (`ray start ... --resources '{"dlarena_cell": 1}'`) and every cell's task asks for
it, with the CPUs its threads use, a GPU for a GPU cell, and, given `machine`, a custom
resource naming a machine type, so a run's cells all land on machines of one kind. On the
node, the task starts the cell's worker process exactly as `dlarena run` does on one machine
(`LocalExecutor`: timeout, process group, lifeline), and returns its outcome; the runner
stores each as it comes back. Each node must have dlarena and the frameworks installed
where the coordinator has them (same interpreter paths).

A node that dies (or whose task's process is killed) fails the cell it was running, with
the reason, and the run goes on with the nodes left; a rerun resumes as on one machine.
Same-model checks (task "check") write their evidence to the coordinator's disk, so they run
on the coordinator. Without an address the executor starts a private local cluster on
127.0.0.1 (one node, this machine) and stops it in `close`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dlarena.cell import CellSpec
from dlarena.executors.base import CellOutcome, Executor, ProgressHandler
from dlarena.executors.local import LocalExecutor

SLOT = "dlarena_cell"
# How long a cell may wait for a node, beyond its own timeout, before it is given up.
QUEUE_ALLOWANCE_SECONDS = 120.0
# The object store holds only small outcomes: the least Ray accepts, not a share of RAM.
OBJECT_STORE_BYTES = 80 * 2**20


class ClusterError(Exception):
    """The cluster cannot take this run (unreachable, or no node offers a slot)."""


def _run_on_node(cell_json: str, interpreters: dict[str, str], replicate: int
                 ) -> dict[str, Any]:
    """The body of a cell's Ray task, on its node: one local worker process."""
    import socket

    cell = CellSpec.from_json(cell_json)
    outcome = LocalExecutor(interpreters).run(cell, lambda _cell, _event: None,
                                              replicate=replicate)
    return {"status": outcome.status, "error": outcome.error, "payload": outcome.payload,
            "stderr_tail": outcome.stderr_tail, "started_utc": outcome.started_utc,
            "wall_seconds": outcome.wall_seconds, "interpreter": outcome.interpreter,
            "details": {**outcome.details, "node": socket.gethostname(),
                        "node_pid": os.getpid()}}


class RayExecutor(Executor):
    """Cells as Ray tasks, one per node at a time; `slots` of them in flight at once."""

    def __init__(self, interpreters: Mapping[str, str] | None = None, *,
                 address: str | None = None, machine: str | None = None) -> None:
        import ray

        self._ray: Any = ray
        self._interpreters = dict(interpreters or {})
        self._local = LocalExecutor(self._interpreters)
        self._machine = machine
        self._in_flight: set[Any] = set()
        # A private cluster's sockets and logs, removed with it (short: sockets need it).
        self._scratch = tempfile.mkdtemp(prefix="rdl-", dir="/tmp") if address is None else None
        try:
            if address is None:
                cpus = len(os.sched_getaffinity(0))
                ray.init(address="local", num_cpus=cpus, resources={SLOT: 1},
                         include_dashboard=False, log_to_driver=False,
                         configure_logging=False, object_store_memory=OBJECT_STORE_BYTES,
                         _node_ip_address="127.0.0.1", _temp_dir=self._scratch)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except Exception as error:  # Ray raises many kinds; all mean "no cluster"
            self._remove_scratch()
            raise ClusterError(f"cannot join the Ray cluster at {address or 'a new local one'}"
                               f": {type(error).__name__}: {error}") from None
        self._task = ray.remote(max_retries=0)(_run_on_node)
        nodes = self._nodes()
        if not nodes:
            ray.shutdown()
            self._remove_scratch()
            wanted = {SLOT: 1, **({machine: 1} if machine else {})}
            raise ClusterError(
                f"no live node of the Ray cluster at {address} offers {', '.join(wanted)}: "
                "start each node that should measure with `ray start ... --resources "
                f"'{json.dumps(wanted)}'`")
        self.slots_at_start = len(nodes)

    def _nodes(self) -> list[dict[str, Any]]:
        """Live nodes that take cells (and are of the machine type asked for)."""
        nodes: list[dict[str, Any]] = self._ray.nodes()
        return [node for node in nodes
                if node.get("Alive") and node["Resources"].get(SLOT, 0) >= 1
                and (self._machine is None or node["Resources"].get(self._machine, 0) >= 1)]

    def live_nodes(self) -> int:
        """How many nodes could take a cell now (the cluster notices a death in seconds)."""
        return len(self._nodes())

    @property
    def slots(self) -> int:
        return self.slots_at_start

    def close(self) -> None:
        self.cancel()
        self._ray.shutdown()
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def cancel(self) -> None:
        for ref in list(self._in_flight):
            # Finished meanwhile, or its node already gone: nothing left to stop.
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)

    def run(
        self, cell: CellSpec, on_progress: ProgressHandler, *, task: str = "measure",
        artifacts: str | None = None, replicate: int = 0,
    ) -> CellOutcome:
        if task != "measure":  # evidence files live on the coordinator's disk
            return self._local.run(cell, on_progress, task=task, artifacts=artifacts,
                                   replicate=replicate)
        started_utc = datetime.now(UTC).isoformat(timespec="seconds")
        resources = {SLOT: 1.0, **({self._machine: 1.0} if self._machine else {})}
        gpus = 1 if cell.device == "gpu" else 0

        submitted = time.monotonic()

        def failed(reason: str) -> CellOutcome:
            return CellOutcome(cell=cell, status="error", error=reason, payload={},
                               stderr_tail="", started_utc=started_utc,
                               wall_seconds=time.monotonic() - submitted,
                               interpreter=self._local.interpreter(cell.framework),
                               details={"executor": "ray"})

        fitting = [node for node in self._nodes()
                   if node["Resources"].get("CPU", 0) >= cell.threads.intra_op
                   and node["Resources"].get("GPU", 0) >= gpus]
        if not fitting:
            return failed(f"no live Ray node offers a measuring slot with "
                          f"{cell.threads.intra_op} CPUs{' and a GPU' if gpus else ''}")
        ref = self._task.options(num_cpus=cell.threads.intra_op, num_gpus=gpus,
                                 resources=resources).remote(cell.to_json(), self._interpreters,
                                                             replicate)
        self._in_flight.add(ref)
        try:
            ready, _ = self._ray.wait([ref], timeout=cell.timeout_seconds
                                      + QUEUE_ALLOWANCE_SECONDS)
            if not ready:
                self._ray.cancel(ref, force=True)
                return failed(f"no result from the Ray cluster within "
                              f"{cell.timeout_seconds + QUEUE_ALLOWANCE_SECONDS:g} s "
                              "(no node free, or the task was lost)")
            result = self._ray.get(ref)
        except self._ray.exceptions.RayError as error:
            return failed(f"lost on the Ray cluster ({type(error).__name__}): "
                          f"{_reason(error)}")
        finally:
            self._in_flight.discard(ref)
        result["details"]["executor"] = "ray"
        return CellOutcome(cell=cell, **result)


def _reason(error: BaseException) -> str:
    """Ray's message without its advice: the first two sentences (what died, and where)."""
    text = " ".join(str(error).split())
    sentences = re.split(r"(?<=\.) ", text)
    return " ".join(sentences[:2]) or "no reason given"

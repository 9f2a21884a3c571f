"""Run cells on a Ray cluster: each cell a Ray task that runs the local executor on its node.

A node measures one cell at a time: every node that takes cells offers the custom resource
`SLOT` once (`ray start ... --resources '{"dlarena_cell": 1}'`) and every cell's task asks for
it, with the CPUs its threads use, a GPU for a GPU cell, and, given `machine`, a custom
resource naming a machine type, so a run's cells all land on machines of one kind. On the
node, the task starts the cell's worker process exactly as `dlarena run` does on one machine
(`LocalExecutor`: timeout, process group, lifeline), and returns its outcome; the runner
stores each as it comes back. Each node must have dlarena and the frameworks installed
where the coordinator has them (same interpreter paths), and a user's model file at the same
path; each task carries the run's environment (`registry.run_environment`: which model).

A node that dies (or whose task's process is killed) fails the cell it was running, with
the reason, and the run goes on with the nodes left; a rerun resumes as on one machine.
Same-model checks (task "check") write their evidence to the coordinator's disk, so they run
on the coordinator. An address that nothing answers at is refused in seconds. Without an
address the executor starts a private cluster on this machine (`ray_private`): in network
and process namespaces of its own, reachable from nowhere else, and gone with its run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.executors import ray_private
from dlarena.executors.base import CellOutcome, Executor, ProgressHandler
from dlarena.executors.local import LocalExecutor

SLOT = "dlarena_cell"
# How long a cell may wait for a node, beyond its own timeout, before it is given up.
QUEUE_ALLOWANCE_SECONDS = 120.0
# The object store holds only small outcomes: the least Ray accepts, not a share of RAM.
OBJECT_STORE_BYTES = 80 * 2**20
# How long an --address may take to accept a connection.
PROBE_SECONDS = 5.0


class ClusterError(Exception):
    """The cluster cannot take this run (unreachable, or no node offers a slot)."""


def _run_on_node(cell_json: str, interpreters: dict[str, str], replicate: int,
                 environment: dict[str, str | None]) -> dict[str, Any]:
    """The body of a cell's Ray task, on its node: one local worker process, which sees the
    coordinator's `environment` (the run's workload) whatever the node's own says."""
    import socket

    cell = CellSpec.from_json(cell_json)
    with registry.environment_here(environment) as variables, _environment(variables):
        outcome = LocalExecutor(interpreters).run(cell, lambda _cell, _event: None,
                                                  replicate=replicate)
    return {"status": outcome.status, "error": outcome.error, "payload": outcome.payload,
            "stderr_tail": outcome.stderr_tail, "started_utc": outcome.started_utc,
            "wall_seconds": outcome.wall_seconds, "interpreter": outcome.interpreter,
            "details": {**outcome.details, "node": socket.gethostname(),
                        "node_pid": os.getpid()}}


@contextlib.contextmanager
def _environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """These variables set (None: unset) while a task runs; as they were afterwards, since
    Ray runs the next task, maybe of another run, in the same process."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        for name, value in variables.items():
            _set(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


class RayExecutor(Executor):
    """Cells as Ray tasks, one per node at a time; `slots` of them in flight at once."""

    def __init__(self, interpreters: Mapping[str, str] | None = None, *,
                 address: str | None = None, machine: str | None = None,
                 scratch: str | None = None) -> None:
        """`address`: the cluster to join; None: a private one (`ray_private`). `scratch`:
        start a one-node cluster in this process's own network, its files there: what the
        private cluster's host does inside its namespaces, and nothing else may."""
        self._interpreters = dict(interpreters or {})
        self._local = LocalExecutor(self._interpreters)
        self._machine = machine
        self._in_flight: set[Any] = set()
        self._scratch = scratch
        self._host: ray_private.Host | None = None
        if address is None and scratch is None:
            try:
                self._host = ray_private.Host(self._interpreters, machine)
            except ray_private.HostFailed as error:
                raise ClusterError(f"cannot start a private Ray cluster: {error}") from None
            self.slots_at_start = self._host.slots
            return
        if address is not None:
            _reachable(address)
        self._join(address)

    def _join(self, address: str | None) -> None:
        import ray

        self._ray: Any = ray
        try:
            if self._scratch is not None:
                os.makedirs(self._scratch, exist_ok=True)
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
            wanted = {SLOT: 1, **({self._machine: 1} if self._machine else {})}
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
        return self.slots_at_start if self._host is not None else len(self._nodes())

    @property
    def slots(self) -> int:
        return self.slots_at_start

    def close(self) -> None:
        self.cancel()
        if self._host is not None:
            self._host.close()
            return
        self._ray.shutdown()
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def cancel(self) -> None:
        self._local.cancel()  # the same-model checks, which run on this machine
        if self._host is not None:
            self._host.cancel()
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

        if self._host is not None:
            try:
                fields = self._host.run(cell, replicate=replicate, timeout=cell.timeout_seconds
                                        + 2 * QUEUE_ALLOWANCE_SECONDS)
            except ray_private.HostFailed as error:
                return failed(str(error))
            return CellOutcome(cell=cell, **fields)
        fitting = [node for node in self._nodes()
                   if node["Resources"].get("CPU", 0) >= cell.threads.intra_op
                   and node["Resources"].get("GPU", 0) >= gpus]
        if not fitting:
            return failed(f"no live Ray node offers a measuring slot with "
                          f"{cell.threads.intra_op} CPUs{' and a GPU' if gpus else ''}")
        ref = self._task.options(num_cpus=cell.threads.intra_op, num_gpus=gpus,
                                 resources=resources).remote(cell.to_json(), self._interpreters,
                                                             replicate, registry.run_environment())
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


def _reachable(address: str) -> None:
    """Refuse in seconds an address of host:port where no Ray head answers: Ray itself would
    retry for minutes. A head's GCS is a gRPC server, which answers an HTTP/2 greeting with
    its settings at once (unless Ray uses TLS). Other forms ("auto") are Ray's to resolve."""
    match = re.fullmatch(r"(?:ray://)?\[?([^\]]+?)\]?:(\d+)", address)
    if match is None:
        return
    try:
        with socket.create_connection((match[1], int(match[2])), timeout=PROBE_SECONDS) as probe:
            if os.environ.get("RAY_USE_TLS", "0") in ("0", ""):
                probe.sendall(_HTTP2_GREETING)
                answer = probe.recv(9)
                if len(answer) < 9 or answer[3] != _HTTP2_SETTINGS:
                    raise ClusterError(f"--address {address} answers, but not as a Ray "
                                       "cluster's head (no gRPC server there): give the head's "
                                       "GCS port (`ray start --head --port`, 6379 by default)")
    except (OSError, OverflowError, ValueError) as error:
        raise ClusterError(f"nothing answers at --address {address} ({error}): start the "
                           "cluster's head (`ray start --head`) or correct the address") from None


# The HTTP/2 client preface and an empty SETTINGS frame; a server's first frame is SETTINGS.
_HTTP2_GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_HTTP2_SETTINGS = 4


def _reason(error: BaseException) -> str:
    """Ray's message without its advice: the first two sentences (what died, and where)."""
    text = " ".join(str(error).split())
    sentences = re.split(r"(?<=\.) ", text)
    return " ".join(sentences[:2]) or "no reason given"

"""Worker-side glue every framework provides: import, threads, seeds, device, sync."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from dlarena.cell import ThreadSettings


class DeviceUnavailable(RuntimeError):
    """The cell asked for a device this framework cannot see; never fall back silently."""


class Runtime(ABC):
    """Worker-side glue: imports the framework, sets threads and seeds, syncs the device."""

    @classmethod
    def preload(cls, *, threads: ThreadSettings, device: str) -> bool:
        """In a fork server (`worker/forkserver.py`): what `setup` does up to and including
        the framework's import, and nothing that starts a thread, a device or a compiler, so
        that a process forked from this one sets the framework up as a fresh process would,
        only without paying for the import. False (the default): the framework offers no
        such step, and its cells run in fresh processes."""
        return False

    @abstractmethod
    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        """Import the framework and configure it before its first operation."""

    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def device_name(self) -> str:
        """The device actually used, as the framework names it (e.g. 'cpu', 'cuda:0')."""

    @abstractmethod
    def sync(self, value: Any) -> None:
        """Block until `value` (a step's result) and all queued device work are done."""

    @abstractmethod
    def scalar(self, value: Any) -> float:
        """A step's scalar result (a loss) as a Python float, on the host."""

    @abstractmethod
    def to_numpy(self, value: Any) -> Any:
        """A step's tensor result (e.g. logits) as a NumPy array on the host."""

    @abstractmethod
    def peak_device_memory_bytes(self) -> int | None:
        """Peak memory of the framework's device allocator; None on the CPU."""

    @abstractmethod
    def matrix_product(self, size: int) -> Callable[[], Any]:
        """A step computing one size x size float32 product on the device, for the peak.

        Returns a small value that depends on the product, so `sync` waits for it without
        copying the whole result to the host.
        """

    @abstractmethod
    def manifest(self) -> dict[str, Any]:
        """Settings that decide what is computed and how fast, read back from the framework."""

    def join_data_parallel(self, *, rank: int, world: int, addresses: Sequence[str],
                           timeout_seconds: float) -> None:
        """Join a group of `world` processes training one model, over loopback.

        `addresses` holds one free 127.0.0.1 host:port per rank, the same list in every
        rank: a framework with a rendezvous point uses the first, one whose ranks each serve
        (TensorFlow's gRPC workers) uses its own. Called right after `setup`, before any
        model is built. Only a framework whose INFO says `data_parallel` overrides it;
        joining, or a collective, that waits longer than `timeout_seconds` for a peer fails
        instead of hanging.
        """
        raise NotImplementedError("this framework does not train data-parallel here")

    def leave_data_parallel(self) -> None:
        """Leave the group joined by join_data_parallel, after every rank's last step (a
        barrier), so that no communication thread is left running when the process exits."""
        raise NotImplementedError("this framework does not train data-parallel here")

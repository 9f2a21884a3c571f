"""PyTorch runtime glue: threads, seeds, device, synchronisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dlarena.cell import ThreadSettings
from dlarena.contract import DeviceUnavailable, Runtime


class TorchRuntime(Runtime):
    @classmethod
    def preload(cls, *, threads: ThreadSettings, device: str) -> bool:
        # Importing torch starts no OpenMP pool (the first parallel operation does) and no
        # CUDA context; only a CPU cell is ever forked (executors/forkserver.py).
        import torch  # noqa: F401

        return True

    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        import torch

        # Inter-op threads can only be set before any inter-op parallel work starts.
        torch.set_num_interop_threads(threads.inter_op)
        torch.set_num_threads(threads.intra_op)
        torch.manual_seed(seed)
        # float32 means float32: PyTorch's default, stated so a GPU run cannot drift to TF32.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        if device == "gpu":
            if not torch.cuda.is_available():
                raise DeviceUnavailable("the cell asks for a GPU but torch sees no CUDA device")
            self._device = torch.device("cuda", 0)
        else:
            self._device = torch.device("cpu")
        self._torch = torch

    def join_data_parallel(self, *, rank: int, world: int, addresses: Sequence[str],
                           timeout_seconds: float) -> None:
        """torch.distributed, rendezvous over TCP at the first address: gloo on the CPU,
        NCCL on GPUs."""
        from datetime import timedelta

        import torch.distributed as dist

        backend = "nccl" if self._device.type == "cuda" else "gloo"
        dist.init_process_group(backend, init_method=f"tcp://{addresses[0]}", rank=rank,
                                world_size=world, timeout=timedelta(seconds=timeout_seconds))
        self.data_parallel_backend = backend

    def leave_data_parallel(self) -> None:
        """A process that exits with gloo's group still open can abort (SIGABRT) while its
        threads are torn down: wait for every rank, then destroy the group."""
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    @property
    def torch_device(self) -> Any:
        return self._device

    def version(self) -> str:
        return str(self._torch.__version__)

    def device_name(self) -> str:
        return str(self._device)

    def sync(self, value: Any) -> None:
        # CPU ops run synchronously; CUDA kernels are queued and must be waited for.
        if self._device.type == "cuda":
            self._torch.cuda.synchronize(self._device)

    def scalar(self, value: Any) -> float:
        return float(value.detach().item())

    def to_numpy(self, value: Any) -> Any:
        return value.detach().cpu().numpy()

    def peak_device_memory_bytes(self) -> int | None:
        if self._device.type != "cuda":
            return None
        return int(self._torch.cuda.max_memory_allocated(self._device))

    def matrix_product(self, size: int) -> Callable[[], Any]:
        torch = self._torch
        a, b = (torch.rand(size, size, device=self._device) for _ in range(2))
        return lambda: torch.mm(a, b)[0, 0]

    def manifest(self) -> dict[str, Any]:
        torch = self._torch
        return {
            "intra_op_threads": torch.get_num_threads(),
            "inter_op_threads": torch.get_num_interop_threads(),
            "onednn": "on" if torch.backends.mkldnn.enabled else "off",
            "tf32": bool(torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32),
            "deterministic_ops": torch.are_deterministic_algorithms_enabled(),
        }


RUNTIME = TorchRuntime

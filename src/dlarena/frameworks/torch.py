"""PyTorch: runtime glue and the base class of every PyTorch implementation."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.frameworks.base import DeviceUnavailable, FrameworkInfo, Runtime
from dlarena.workloads.base import Implementation, Weights

INFO = FrameworkInfo(
    name="torch",
    description="PyTorch, eager by default",
    distributions=("torch",),
    pip_requirement="torch",
    modes=("eager",),
)


class TorchRuntime(Runtime):
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

    def peak_device_memory_bytes(self) -> int | None:
        if self._device.type != "cuda":
            return None
        return int(self._torch.cuda.max_memory_allocated(self._device))

    def manifest(self) -> dict[str, Any]:
        torch = self._torch
        return {
            "intra_op_threads": torch.get_num_threads(),
            "inter_op_threads": torch.get_num_interop_threads(),
            "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
            "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
            "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        }


class TorchClassifier(Implementation):
    """Build with `build_model`; modules are named after the canonical weight prefixes."""

    runtime: TorchRuntime

    @abstractmethod
    def build_model(self) -> Any:
        """An `nn.Module` whose layer names are the canonical prefixes (e.g. 'dense1')."""

    @abstractmethod
    def channels_last(self) -> bool:
        """Image models: keep NCHW tensors in NHWC memory order.

        The fairness rules give each framework its fastest layout; on this kind of CPU,
        channels_last trained the cnn 1.4x and ran inference 1.6x faster than contiguous NCHW.
        """

    def data_layout(self) -> str:
        return "NCHW tensors, channels_last memory" if self.channels_last() else "contiguous"

    def build(self) -> None:
        import torch

        settings = self.workload.optimizer
        self.model = self.build_model().to(self.runtime.torch_device)
        if self.channels_last():
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(),
            lr=settings.learning_rate,
            betas=(settings.beta_1, settings.beta_2),
            eps=settings.epsilon,
        )
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def prepare(self, *, training: bool) -> None:
        self.model.train(training)

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        import torch

        device = self.runtime.torch_device
        tensor = torch.from_numpy(inputs).to(device)
        if self.channels_last():
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor, torch.from_numpy(labels).to(device)

    def train_step(self, batch: Any) -> Any:
        inputs, labels = batch
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(inputs), labels)
        loss.backward()
        self.optimizer.step()
        return loss

    def infer_step(self, batch: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self.model(batch[0])

    def trainable_parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def get_weights(self) -> Weights:
        weights: Weights = {}
        for prefix, module in self.model.named_modules():
            for suffix, (tensor, to_canonical) in _torch_tensors(module).items():
                array = tensor.detach().cpu().numpy()
                weights[f"{prefix}.{suffix}"] = np.ascontiguousarray(to_canonical(array))
        return weights

    def set_weights(self, weights: Weights) -> None:
        import torch

        with torch.no_grad():
            for prefix, module in self.model.named_modules():
                for suffix, (tensor, to_canonical) in _torch_tensors(module).items():
                    canonical = weights[f"{prefix}.{suffix}"]
                    # Both conversions used here are their own inverse (transpose, identity).
                    tensor.copy_(torch.from_numpy(np.ascontiguousarray(to_canonical(canonical))))


Conversion = Callable[[np.ndarray], np.ndarray]


def _identity(array: np.ndarray) -> np.ndarray:
    return array


def _transpose(array: np.ndarray) -> np.ndarray:
    return array.T


def _torch_tensors(module: Any) -> dict[str, tuple[Any, Conversion]]:
    """Canonical suffix -> (tensor, conversion to canonical) for the layer types we use."""
    from torch import nn

    tensors: dict[str, tuple[Any, Conversion]]
    if isinstance(module, nn.Linear):
        tensors = {"kernel": (module.weight, _transpose)}  # torch (out, in) -> (in, out)
        if module.bias is not None:
            tensors["bias"] = (module.bias, _identity)
        return tensors
    if isinstance(module, nn.Conv2d):
        tensors = {"kernel": (module.weight, _identity)}  # OIHW is canonical
        if module.bias is not None:
            tensors["bias"] = (module.bias, _identity)
        return tensors
    if isinstance(module, nn.BatchNorm2d):
        return {
            "gamma": (module.weight, _identity),
            "beta": (module.bias, _identity),
            "moving_mean": (module.running_mean, _identity),
            "moving_variance": (module.running_var, _identity),
        }
    return {}


RUNTIME = TorchRuntime

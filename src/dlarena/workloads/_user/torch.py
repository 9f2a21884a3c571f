"""The user's PyTorch module in PyTorch's modes (eager, torch.compile) and, through PyTorch's
deployment paths, exported (`torch.export`) and in ONNX Runtime.

Each build calls the build function again (a module's weight names are its attribute paths,
the same at every build), wraps the module so its forward pass gives one tensor
(`torch_modules.logits_module`), and loads dlarena's canonical weights. The same-model
check's builds (scenario "check") set every dropout probability to 0; the timed cells keep
them. Training uses the workload's stated Adam and the loss taken from the output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlarena.contract import Weights, check_layout
from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads._user import source, torch_modules
from dlarena.workloads._user.spec import UserModel

# The same-model check's cells (parity/check.py) run this scenario.
CHECK_SCENARIO = "check"


class Implementation(TorchModel):
    workload: UserModel

    def channels_last(self) -> bool:
        return False

    def data_layout(self) -> str:
        return "the module's own (contiguous)"

    def build_model(self) -> Any:
        inner, _ = torch_modules.unpack(source.build(self.workload.source,
                                                     batch_size=self.cell.batch_size))
        if self.cell.scenario == CHECK_SCENARIO:
            torch_modules.without_dropout(inner)
        return torch_modules.logits_module(inner)

    def _tensors(self) -> dict[str, tuple[Any, bool]]:
        return torch_modules.named_tensors(self.model.inner)

    def trainable_parameter_count(self) -> int:
        return sum(tensor.numel() for tensor, trainable in self._tensors().values() if trainable)

    def get_weights(self) -> Weights:
        return {name: np.ascontiguousarray(tensor.detach().cpu().numpy())
                for name, (tensor, _) in self._tensors().items()}

    def set_weights(self, weights: Weights) -> None:
        import torch

        tensors = self._tensors()
        check_layout(self.cell.framework, set(tensors), set(weights))
        with torch.no_grad():
            for name, (tensor, _) in tensors.items():
                tensor.copy_(torch.from_numpy(np.asarray(weights[name])).to(tensor.dtype))

    def activations(self, batch: Any) -> Weights:
        import torch

        with torch.no_grad():
            return torch_modules.layer_outputs(self.model.inner,
                                               lambda: self.forward(batch[0]))

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        inputs, labels = batch
        self.model.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.forward(inputs), labels)
        loss.backward()
        return float(loss.item()), {
            name: np.ascontiguousarray(tensor.grad.detach().cpu().numpy())
            for name, (tensor, trainable) in self._tensors().items()
            if trainable and tensor.grad is not None}

    def hyperparameters(self) -> dict[str, Any]:
        facts = self.workload.facts
        noisy = facts.get("noisy_layers") or []
        return {
            **super().hyperparameters(),
            "weight_init": "dlarena canonical weights (glorot-uniform), loaded",
            "model_source": facts["source"]["spec"],
            "model_sha256": facts["source"].get("sha256"),
            "random_layers": (f"{', '.join(noisy)}: dropout in training mode here; the "
                              "same-model check runs it at p=0") if noisy else "none",
        }

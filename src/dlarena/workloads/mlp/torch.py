"""mlp in PyTorch."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads.mlp.spec import CLASSES, HIDDEN, INPUTS


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return False

    def build_model(self) -> Any:
        from torch import nn

        return nn.Sequential(
            OrderedDict(
                dense1=nn.Linear(INPUTS, HIDDEN[0]),
                relu1=nn.ReLU(),
                dense2=nn.Linear(HIDDEN[0], HIDDEN[1]),
                relu2=nn.ReLU(),
                out=nn.Linear(HIDDEN[1], CLASSES),
            )
        )

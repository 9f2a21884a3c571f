"""lstm in PyTorch. Imported only inside a worker, so it may import torch at the top."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from torch import nn

from dlarena.frameworks.torch.layouts import single_bias_lstm
from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads.lstm.spec import CLASSES


class LastStepLstm(nn.LSTM):
    """One batch-first LSTM layer returning its last output, so it fits nn.Sequential.

    `bias_hh_l0` stays zero and frozen: the canonical layout, like Keras, has one bias.
    """

    def __init__(self, inputs: int, units: int) -> None:
        super().__init__(inputs, units, batch_first=True)
        single_bias_lstm(self)

    def forward(self, inputs: Any) -> Any:  # type: ignore[override]
        outputs, _ = super().forward(inputs)
        return outputs[:, -1]


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return False

    def build_model(self) -> Any:
        knobs = self.knobs
        return nn.Sequential(OrderedDict(
            embedding=nn.Embedding(knobs["vocabulary"], knobs["embedding"]),
            lstm=LastStepLstm(knobs["embedding"], knobs["units"]),
            out=nn.Linear(knobs["units"], CLASSES),
        ))

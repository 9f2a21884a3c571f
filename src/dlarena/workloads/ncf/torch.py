"""ncf in PyTorch: one module, the two towers side by side."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads.ncf.spec import WORKLOAD


class NeuMF(nn.Module):
    def __init__(self, knobs: dict[str, Any], widths: list[tuple[int, int]]) -> None:
        super().__init__()
        users, items, factors, layers = (knobs[k] for k in ("users", "items", "factors",
                                                            "layers"))
        self.gmf_user = nn.Embedding(users, factors)
        self.gmf_item = nn.Embedding(items, factors)
        self.mlp_user = nn.Embedding(users, layers[0] // 2)
        self.mlp_item = nn.Embedding(items, layers[0] // 2)
        for index, (fan_in, fan_out) in enumerate(widths, start=1):
            self.add_module(f"mlp{index}", nn.Linear(fan_in, fan_out))
        self.depth = len(widths)
        self.predict = nn.Linear(factors + layers[-1], 1)

    def forward(self, pairs: Any) -> Any:
        users, items = pairs[:, 0], pairs[:, 1]
        gmf = self.gmf_user(users) * self.gmf_item(items)
        hidden = torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=1)
        for index in range(1, self.depth + 1):
            hidden = torch.relu(getattr(self, f"mlp{index}")(hidden))
        return self.predict(torch.cat([gmf, hidden], dim=1)).squeeze(1)


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return False

    def data_layout(self) -> str:
        return "(user, item) id pairs"

    def build_model(self) -> Any:
        return NeuMF(self.knobs, WORKLOAD.mlp_widths(self.cell.size))

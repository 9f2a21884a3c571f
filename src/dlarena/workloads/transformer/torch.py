"""transformer in PyTorch: nn.TransformerEncoder of post-LN nn.TransformerEncoderLayer.

In eval mode without gradients (inference) PyTorch takes its fused encoder-layer fast path;
training, and the parity probe (forward hooks attached), run the layer module by module.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads.transformer.spec import LAYER_NORM_EPSILON


class Bert(nn.Module):
    def __init__(self, *, vocabulary: int, sequence: int, hidden: int, layers: int, heads: int,
                 ffn: int) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocabulary, hidden)
        self.position_embedding = nn.Embedding(sequence, hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPSILON)
        layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=ffn, dropout=0.0, activation="gelu",
            layer_norm_eps=LAYER_NORM_EPSILON, batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
        x = self.embedding_norm(self.token_embedding(tokens) + self.position_embedding(positions))
        return self.head(self.encoder(x))  # type: ignore[no-any-return]


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return False

    def build_model(self) -> Any:
        knobs = self.knobs
        return Bert(vocabulary=knobs["vocabulary"], sequence=knobs["sequence"],
                    hidden=knobs["hidden"], layers=knobs["layers"], heads=knobs["heads"],
                    ffn=knobs["ffn"])

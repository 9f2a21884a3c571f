"""gnmt in PyTorch: one nn.LSTM per layer (num_layers=1), batch-first like the canonical layout."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dlarena.contract.layouts import transpose
from dlarena.frameworks.torch.layouts import Slot, single_bias_lstm
from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads.gnmt.spec import DECODER_LAYERS, ENCODER_LAYERS, FIRST_RESIDUAL


def _lstm(inputs: int, hidden: int, *, bidirectional: bool = False) -> nn.LSTM:
    return single_bias_lstm(nn.LSTM(inputs, hidden, batch_first=True,  # type: ignore[no-any-return]
                                    bidirectional=bidirectional))


class BahdanauAttention(nn.Module):
    """score = v . tanh(W_q q + W_k k + b); returns the context, softmax(score) @ keys."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.score = nn.Linear(hidden, 1, bias=False)

    def canonical_tensors(self) -> dict[str, Slot]:
        return {"query_kernel": Slot(self.query.weight, transpose, transpose),
                "key_kernel": Slot(self.key.weight, transpose, transpose),
                "bias": Slot(self.bias),
                "score_kernel": Slot(self.score.weight, transpose, transpose)}

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        # (B, T, 1, H) + (B, 1, S, H) -> scores (B, T, S)
        summed = self.query(query).unsqueeze(2) + self.key(keys).unsqueeze(1) + self.bias
        scores = self.score(torch.tanh(summed)).squeeze(-1)
        return torch.bmm(torch.softmax(scores, dim=-1), keys)


class Encoder(nn.Module):
    def __init__(self, vocabulary: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, hidden)
        self.layers = nn.ModuleList(
            [_lstm(hidden, hidden, bidirectional=True), _lstm(2 * hidden, hidden)]
            + [_lstm(hidden, hidden) for _ in range(2, ENCODER_LAYERS)])

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        x: torch.Tensor = self.embedding(source)
        for index, layer in enumerate(self.layers):
            output, _ = layer(x)
            x = output + x if index >= FIRST_RESIDUAL else output
        return x


class Decoder(nn.Module):
    def __init__(self, vocabulary: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, hidden)
        self.layers = nn.ModuleList(
            [_lstm(hidden, hidden)] + [_lstm(2 * hidden, hidden) for _ in range(1, DECODER_LAYERS)])
        self.attention = BahdanauAttention(hidden)
        self.classifier = nn.Linear(hidden, vocabulary)

    def forward(self, targets: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        x, _ = self.layers[0](self.embedding(targets))
        context = self.attention(x, keys)
        for index in range(1, DECODER_LAYERS):
            output, _ = self.layers[index](torch.cat([x, context], dim=-1))
            x = output + x if index >= FIRST_RESIDUAL else output
        return self.classifier(x)  # type: ignore[no-any-return]


class Gnmt(nn.Module):
    """Takes source and decoder-input tokens as one (B, S + T) array; returns (B, T, V) logits."""

    def __init__(self, vocabulary: int, hidden: int, source: int) -> None:
        super().__init__()
        self.source = source
        self.encoder = Encoder(vocabulary, hidden)
        self.decoder = Decoder(vocabulary, hidden)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        keys = self.encoder(tokens[:, :self.source])
        return self.decoder(tokens[:, self.source:], keys)  # type: ignore[no-any-return]


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return False

    def build_model(self) -> Any:
        knobs = self.knobs
        return Gnmt(knobs["vocabulary"], knobs["hidden"], knobs["source"])

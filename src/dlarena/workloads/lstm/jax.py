"""lstm in JAX (Flax Linen; the LSTM is a lax.scan with the canonical fused gates)."""

from __future__ import annotations

from typing import Any

from flax import linen as nn

from dlarena.frameworks.jax.layers import lstm
from dlarena.frameworks.jax.model import JaxModel
from dlarena.workloads.lstm.spec import CLASSES, WORKLOAD


class Classifier(nn.Module):
    size: str

    @nn.compact
    def __call__(self, tokens: Any, *, training: bool) -> Any:
        knobs = WORKLOAD.knobs(self.size)
        x = nn.Embed(knobs["vocabulary"], knobs["embedding"], name="embedding")(tokens)
        x = lstm(knobs["units"], return_sequences=False, name="lstm")(x)
        return nn.Dense(CLASSES, name="out")(x)


class Implementation(JaxModel):
    def data_layout(self) -> str:
        return "batch-major sequences"

    def conventions(self) -> dict[str, Any]:
        return {"lstm": "gates i, f, g, o; one bias; sigmoid gates, tanh cell; lax.scan"}

    def build_model(self) -> Any:
        return Classifier(self.cell.size)

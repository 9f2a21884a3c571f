"""transformer: a BERT-style encoder trained to predict every token (MLM-style), no dropout.

Token embedding + learned position embedding, LayerNorm; N post-LN encoder layers
[multi-head self-attention -> add & LayerNorm -> dense + GELU (exact, erf) -> dense ->
add & LayerNorm]; a dense head over the vocabulary at every position (per-token softmax).
Unlike BERT the head is not tied to the token embedding and there are no token-type
embeddings or pooler. LayerNorm epsilon is BERT's 1e-12 in both frameworks (the defaults
differ: Keras 1e-3, PyTorch 1e-5).

Attention layout: query/key/value/output kernels (d, d) as (in, out), heads side by side in
the columns (PyTorch's packed in_proj rows and Keras' (d, heads, head) kernels both map to it).
"""

from __future__ import annotations

import numpy as np

from dlarena.contract import Shape, SizeConfig, Workload
from dlarena.workloads import flops

LAYER_NORM_EPSILON = 1e-12
MASK_TOKEN = 0
MASK_FRACTION = 0.15


class Transformer(Workload):
    name = "transformer"
    description = ("BERT-style post-LN encoder, per-token vocabulary head (MLM-style), "
                   "no dropout, Adam lr 1e-3")
    unit = "tokens"
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(
            batch_size=8,
            description="hidden 32, 2 layers, 2 heads, FFN 64, vocabulary 100, 16 tokens",
            knobs={"hidden": 32, "layers": 2, "heads": 2, "ffn": 64, "vocabulary": 100,
                   "sequence": 16},
        ),
        "cpu": SizeConfig(
            batch_size=16,
            description="hidden 128, 12 layers, 2 heads, FFN 512, vocabulary 4000, 64 tokens, "
                        "batch 16",
            knobs={"hidden": 128, "layers": 12, "heads": 2, "ffn": 512, "vocabulary": 4000,
                   "sequence": 64},
        ),
        "full": SizeConfig(
            batch_size=32,
            description="BERT-base: hidden 768, 12 layers, 12 heads, FFN 3072, vocabulary "
                        "30522, 128 tokens, batch 32",
            knobs={"hidden": 768, "layers": 12, "heads": 12, "ffn": 3072, "vocabulary": 30522,
                   "sequence": 128},
        ),
    }

    def items_per_sample(self, size: str) -> int:
        """Tokens/s counts every position of a sequence."""
        return int(self.knobs(size)["sequence"])

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        knobs = self.knobs(size)
        hidden, ffn, vocabulary = knobs["hidden"], knobs["ffn"], knobs["vocabulary"]
        shapes: dict[str, Shape] = {
            "token_embedding.embeddings": (vocabulary, hidden),
            "position_embedding.embeddings": (knobs["sequence"], hidden),
            "embedding_norm.gamma": (hidden,),
            "embedding_norm.beta": (hidden,),
        }
        for index in range(knobs["layers"]):
            layer = f"encoder_layers_{index}"
            for part in ("query", "key", "value", "output"):
                shapes[f"{layer}_self_attn.{part}_kernel"] = (hidden, hidden)
                shapes[f"{layer}_self_attn.{part}_bias"] = (hidden,)
            shapes[f"{layer}_norm1.gamma"] = (hidden,)
            shapes[f"{layer}_norm1.beta"] = (hidden,)
            shapes[f"{layer}_linear1.kernel"] = (hidden, ffn)
            shapes[f"{layer}_linear1.bias"] = (ffn,)
            shapes[f"{layer}_linear2.kernel"] = (ffn, hidden)
            shapes[f"{layer}_linear2.bias"] = (hidden,)
            shapes[f"{layer}_norm2.gamma"] = (hidden,)
            shapes[f"{layer}_norm2.beta"] = (hidden,)
        shapes["head.kernel"] = (hidden, vocabulary)
        shapes["head.bias"] = (vocabulary,)
        return shapes

    def forward_flops(self, size: str) -> int:
        knobs = self.knobs(size)
        hidden, tokens = knobs["hidden"], knobs["sequence"]
        layer = (4 * flops.dense(hidden, hidden, rows=tokens)  # query, key, value, output
                 + flops.attention_scores(tokens, tokens, hidden)  # all heads together
                 + flops.dense(hidden, knobs["ffn"], rows=tokens)
                 + flops.dense(knobs["ffn"], hidden, rows=tokens))
        return int(knobs["layers"] * layer + flops.dense(hidden, knobs["vocabulary"], rows=tokens))

    def synthetic_batch(
        self, rng: np.random.Generator, batch_size: int, size: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels are the tokens; 15% of the inputs are replaced by a mask token (MLM-style).

        The loss covers every position, so shapes stay fixed (no ignored labels).
        """
        knobs = self.knobs(size)
        labels = rng.integers(1, knobs["vocabulary"], size=(batch_size, knobs["sequence"]),
                              dtype=np.int64)
        masked = rng.random(labels.shape) < MASK_FRACTION
        return np.where(masked, MASK_TOKEN, labels).astype(np.int64), labels


WORKLOAD = Transformer()

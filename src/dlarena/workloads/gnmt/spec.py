"""gnmt: GNMT v2 as in NVIDIA's and MLPerf's PyTorch GNMT, trained with teacher forcing.

Encoder: embedding, one bidirectional LSTM layer (outputs [forward, backward] concatenated),
then three LSTM layers, residual from the third on. Decoder: embedding, a first LSTM layer
whose output is the attention query; Bahdanau (additive) attention over the encoder outputs,
score = v . tanh(W_q q + W_k k + b), context = softmax(score) . encoder outputs; then three
LSTM layers, each fed concat(previous output, context), residual from the third on; a dense
classifier over the target vocabulary. No input feeding, zero initial states (as GNMT v2).

Fixed lengths, no padding or masking, no dropout (the parity check compares training-mode
passes). The model takes one int64 array, source tokens then decoder-input tokens (the
targets shifted right behind a start token); labels are the target tokens. LSTM layout as in
the lstm workload: Keras orientation, one bias (PyTorch's bias_hh held at zero, frozen).
"""

from __future__ import annotations

import numpy as np

from dlarena.contract import Shape, SizeConfig, Workload
from dlarena.workloads import flops

ENCODER_LAYERS = 4
DECODER_LAYERS = 4
# Layers with this index or higher add their input to their output (the third layer on).
FIRST_RESIDUAL = 2
START_TOKEN = 1


class Gnmt(Workload):
    name = "gnmt"
    description = ("GNMT v2 translation: bi-LSTM + 3 LSTM encoder, Bahdanau attention, 4-LSTM "
                   "decoder, teacher forcing, no dropout, Adam lr 1e-3")
    unit = "tokens"
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(
            batch_size=8, description="hidden 32, vocabulary 100, 8 source + 8 target tokens",
            knobs={"hidden": 32, "vocabulary": 100, "source": 8, "target": 8},
        ),
        "cpu": SizeConfig(
            batch_size=16,
            description="hidden 128, vocabulary 2000, 16 source + 16 target tokens, batch 16",
            knobs={"hidden": 128, "vocabulary": 2000, "source": 16, "target": 16},
        ),
        "full": SizeConfig(
            batch_size=128,
            description="published GNMT v2: hidden 1024, vocabulary 32000 (separate source and "
                        "target embeddings), 50 source + 50 target tokens, batch 128",
            knobs={"hidden": 1024, "vocabulary": 32000, "source": 50, "target": 50},
        ),
    }

    def items_per_sample(self, size: str) -> int:
        """Tokens/s counts source and target tokens, as NVIDIA's GNMT benchmark reports."""
        knobs = self.knobs(size)
        return int(knobs["source"] + knobs["target"])

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        knobs = self.knobs(size)
        hidden, vocabulary = knobs["hidden"], knobs["vocabulary"]

        def lstm(prefix: str, inputs: int) -> dict[str, Shape]:
            return {f"{prefix}kernel": (inputs, 4 * hidden),
                    f"{prefix}recurrent_kernel": (hidden, 4 * hidden),
                    f"{prefix}bias": (4 * hidden,)}

        shapes: dict[str, Shape] = {"encoder_embedding.embeddings": (vocabulary, hidden)}
        shapes.update(lstm("encoder_layers_0.forward_", hidden))
        shapes.update(lstm("encoder_layers_0.backward_", hidden))
        shapes.update(lstm("encoder_layers_1.", 2 * hidden))
        for index in range(2, ENCODER_LAYERS):
            shapes.update(lstm(f"encoder_layers_{index}.", hidden))
        shapes["decoder_embedding.embeddings"] = (vocabulary, hidden)
        shapes.update(lstm("decoder_layers_0.", hidden))
        shapes.update({
            "decoder_attention.query_kernel": (hidden, hidden),
            "decoder_attention.key_kernel": (hidden, hidden),
            "decoder_attention.bias": (hidden,),
            "decoder_attention.score_kernel": (hidden, 1),
        })
        for index in range(1, DECODER_LAYERS):
            shapes.update(lstm(f"decoder_layers_{index}.", 2 * hidden))
        shapes["decoder_classifier.kernel"] = (hidden, vocabulary)
        shapes["decoder_classifier.bias"] = (vocabulary,)
        return shapes

    def forward_flops(self, size: str) -> int:
        knobs = self.knobs(size)
        hidden, source, target = knobs["hidden"], knobs["source"], knobs["target"]
        encoder = (2 * flops.lstm(hidden, hidden, source)  # bidirectional
                   + flops.lstm(2 * hidden, hidden, source)
                   + (ENCODER_LAYERS - 2) * flops.lstm(hidden, hidden, source))
        attention = (flops.dense(hidden, hidden, rows=target)  # W_q q
                     + flops.dense(hidden, hidden, rows=source)  # W_k k
                     + flops.dense(hidden, 1, rows=target * source)  # v . tanh(...)
                     + 2 * target * source * hidden)  # softmax(scores) @ encoder outputs
        decoder = (flops.lstm(hidden, hidden, target)
                   + (DECODER_LAYERS - 1) * flops.lstm(2 * hidden, hidden, target)
                   + flops.dense(hidden, knobs["vocabulary"], rows=target))
        return int(encoder + attention + decoder)

    def synthetic_batch(
        self, rng: np.random.Generator, batch_size: int, size: str
    ) -> tuple[np.ndarray, np.ndarray]:
        knobs = self.knobs(size)
        vocabulary = knobs["vocabulary"]
        source = rng.integers(0, vocabulary, size=(batch_size, knobs["source"]), dtype=np.int64)
        labels = rng.integers(0, vocabulary, size=(batch_size, knobs["target"]), dtype=np.int64)
        # Teacher forcing: the decoder reads the targets shifted right behind a start token.
        decoder_inputs = np.concatenate(
            [np.full((batch_size, 1), START_TOKEN, np.int64), labels[:, :-1]], axis=1)
        return np.concatenate([source, decoder_inputs], axis=1), labels


WORKLOAD = Gnmt()

"""A small BERT classifier from Hugging Face transformers, built from its config object
(random weights; no weights or tokenizer are downloaded): token ids in, 2 class scores out.
BERT has dropout: the same-model check runs it at p=0, the timed cells keep it.

    dlarena run --model examples/transformers_bert.py:build
"""

import torch
from transformers import BertConfig, BertForSequenceClassification

VOCABULARY = 1000
SEQUENCE = 32


def build(batch_size: int = 8) -> tuple[torch.nn.Module, torch.Tensor]:
    config = BertConfig(vocab_size=VOCABULARY, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=128,
                        max_position_embeddings=SEQUENCE, num_labels=2)
    model = BertForSequenceClassification(config)
    return model, torch.randint(0, VOCABULARY, (batch_size, SEQUENCE))

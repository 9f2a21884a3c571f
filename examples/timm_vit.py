"""A small Vision Transformer from timm (`pretrained=False`: random weights, nothing is
downloaded), 10 classes on 32x32 RGB images: a PyTorch module nobody here wrote.

    dlarena run --model examples/timm_vit.py:build

runs it in PyTorch eager and torch.compile, and for inference exported with torch.export
and in ONNX Runtime, each checked against eager on the same inputs.
"""

import timm
import torch


def build(batch_size: int = 8) -> tuple[torch.nn.Module, torch.Tensor]:
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10,
                              img_size=32, patch_size=8, depth=2)
    return model, torch.rand(batch_size, 3, 32, 32)

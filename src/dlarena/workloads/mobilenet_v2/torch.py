"""mobilenet_v2 in PyTorch (NCHW tensors, channels_last memory). Imported only inside a worker."""

from __future__ import annotations

from typing import Any

from torch import nn

from dlarena.contract import BatchNormSettings
from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads.mobilenet_v2 import spec
from dlarena.workloads.mobilenet_v2.spec import WORKLOAD


def _norm(channels: int, bn: BatchNormSettings) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=bn.epsilon, momentum=bn.momentum)


class InvertedResidual(nn.Module):
    """Expand 1x1 -> depthwise 3x3 -> project 1x1 (linear), plus the input where shapes allow.

    No in-place ops, so the parity hooks see every layer's own output.
    """

    def __init__(self, block: spec.InvertedResidual, bn: BatchNormSettings) -> None:
        super().__init__()
        self.residual = block.residual
        self.expand = nn.Conv2d(block.c_in, block.hidden, 1, bias=False) \
            if block.expand else None
        self.expand_bn = _norm(block.hidden, bn) if block.expand else None
        self.depthwise = nn.Conv2d(block.hidden, block.hidden, 3, stride=block.stride,
                                   padding=1, groups=block.hidden, bias=False)
        self.depthwise_bn = _norm(block.hidden, bn)
        self.project = nn.Conv2d(block.hidden, block.c_out, 1, bias=False)
        self.project_bn = _norm(block.c_out, bn)
        self.relu6 = nn.ReLU6()

    def forward(self, inputs: Any) -> Any:
        out = inputs
        if self.expand is not None and self.expand_bn is not None:
            out = self.relu6(self.expand_bn(self.expand(out)))
        out = self.relu6(self.depthwise_bn(self.depthwise(out)))
        out = self.project_bn(self.project(out))
        return out + inputs if self.residual else out


class MobileNetV2(nn.Module):
    def __init__(self, size: str) -> None:
        super().__init__()
        bn, knobs = WORKLOAD.batch_norm, WORKLOAD.knobs(size)
        stem, _ = WORKLOAD.stem(size)
        self.stem = nn.Conv2d(3, stem, 3, stride=2, padding=1, bias=False)
        self.stem_bn = _norm(stem, bn)
        blocks = WORKLOAD.blocks(size)
        for block in blocks:  # registered by name, so the canonical prefix is `block3_...`
            self.add_module(block.name, InvertedResidual(block, bn))
        self.head = nn.Conv2d(blocks[-1].c_out, knobs["last_channels"], 1, bias=False)
        self.head_bn = _norm(knobs["last_channels"], bn)
        self.relu6 = nn.ReLU6()
        self.classifier = nn.Linear(knobs["last_channels"], knobs["classes"])
        self.block_names = [block.name for block in blocks]

    def forward(self, inputs: Any) -> Any:
        out = self.relu6(self.stem_bn(self.stem(inputs)))
        for name in self.block_names:
            out = getattr(self, name)(out)
        out = self.relu6(self.head_bn(self.head(out)))
        return self.classifier(out.mean(dim=(2, 3)))


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return True

    def build_model(self) -> Any:
        return MobileNetV2(self.cell.size)

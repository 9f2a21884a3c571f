"""resnet50 in PyTorch (NCHW tensors, channels_last memory). Imported only inside a worker.

Module paths are torchvision's (`layer1.0.conv1`), so canonical names are too.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from dlarena.contract import BatchNormSettings
from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads.resnet50 import spec
from dlarena.workloads.resnet50.spec import WORKLOAD


def _norm(channels: int, bn: BatchNormSettings) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=bn.epsilon, momentum=bn.momentum)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided, "v1.5") -> 1x1, plus the shortcut; no in-place ops, so the
    parity hooks see every layer's own output."""

    def __init__(self, block: spec.Bottleneck, bn: BatchNormSettings) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(block.c_in, block.width, 1, bias=False)
        self.bn1 = _norm(block.width, bn)
        self.conv2 = nn.Conv2d(block.width, block.width, 3, stride=block.stride, padding=1,
                               bias=False)
        self.bn2 = _norm(block.width, bn)
        self.conv3 = nn.Conv2d(block.width, block.c_out, 1, bias=False)
        self.bn3 = _norm(block.c_out, bn)
        self.relu = nn.ReLU()
        self.downsample = nn.Sequential(
            nn.Conv2d(block.c_in, block.c_out, 1, stride=block.stride, bias=False),
            _norm(block.c_out, bn),
        ) if block.downsample else None

    def forward(self, inputs: Any) -> Any:
        out = self.relu(self.bn1(self.conv1(inputs)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = inputs if self.downsample is None else self.downsample(inputs)
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    def __init__(self, size: str) -> None:
        super().__init__()
        bn, base = WORKLOAD.batch_norm, WORKLOAD.knobs(size)["width"]
        self.conv1 = nn.Conv2d(3, base, 7, stride=2, padding=3, bias=False)
        self.bn1 = _norm(base, bn)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        blocks = WORKLOAD.blocks(size)
        for stage in range(1, 5):
            self.add_module(f"layer{stage}", nn.Sequential(*[
                Bottleneck(block, bn) for block in blocks
                if block.name.startswith(f"layer{stage}_")
            ]))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(WORKLOAD.features(size), WORKLOAD.knobs(size)["classes"])

    def forward(self, inputs: Any) -> Any:
        out = self.maxpool(self.relu(self.bn1(self.conv1(inputs))))
        for stage in range(1, 5):
            out = getattr(self, f"layer{stage}")(out)
        return self.fc(self.avgpool(out).flatten(1))


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return True

    def build_model(self) -> Any:
        return ResNet(self.cell.size)

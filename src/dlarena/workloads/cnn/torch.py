"""cnn in PyTorch (NCHW)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from dlarena.frameworks.torch.model import TorchModel
from dlarena.workloads.cnn.spec import CLASSES, CONVS, WORKLOAD


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return True

    def build_model(self) -> Any:
        from torch import nn

        bn = WORKLOAD.batch_norm
        layers: OrderedDict[str, Any] = OrderedDict()
        for index, (conv, (c_in, c_out)) in enumerate(
            zip(CONVS, WORKLOAD.conv_channels(self.cell.size), strict=True)
        ):
            layers[conv] = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
            layers[f"{conv}_bn"] = nn.BatchNorm2d(c_out, eps=bn.epsilon, momentum=bn.momentum)
            layers[f"{conv}_relu"] = nn.ReLU()
            if index % 2 == 1:
                layers[f"pool{index // 2 + 1}"] = nn.MaxPool2d(2)
        hidden = self.knobs["hidden"]
        flat = WORKLOAD.flatten_shape(self.cell.size)
        layers["flatten"] = nn.Flatten()
        layers["fc1"] = nn.Linear(flat[0] * flat[1] * flat[2], hidden)
        layers["fc1_relu"] = nn.ReLU()
        layers["out"] = nn.Linear(hidden, CLASSES)
        return nn.Sequential(layers)

"""vgg19 in PyTorch (NCHW tensors, channels_last memory). Imported only inside a worker."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from torch import nn

from dlarena.frameworks.torch.model import TorchModel, dense_head
from dlarena.workloads.vgg19.spec import WORKLOAD


class Implementation(TorchModel):
    def channels_last(self) -> bool:
        return True

    def build_model(self) -> Any:
        size = self.cell.size
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for conv, c_in, c_out, _, pooled in WORKLOAD.convs(size):
            layers[conv] = nn.Conv2d(c_in, c_out, 3, padding=1)
            layers[f"{conv}_relu"] = nn.ReLU()
            if pooled:
                layers[f"{conv}_pool"] = nn.MaxPool2d(2)
        layers.update(dense_head(WORKLOAD.dense_features(size)))
        return nn.Sequential(layers)

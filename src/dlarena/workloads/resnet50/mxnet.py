"""resnet50 in MXNet Gluon: the chain of workloads/sequential.py (worker only)."""

from __future__ import annotations

from dlarena.contract.chain import Layer
from dlarena.frameworks.mxnet.model import GluonChain
from dlarena.workloads import sequential


class Implementation(GluonChain):
    def chain(self) -> list[Layer]:
        return sequential.resnet50(self.cell.size)

"""mobilenet_v2 in MXNet Gluon: the chain of workloads/sequential.py (worker only)."""

from __future__ import annotations

from dlarena.contract.chain import Layer
from dlarena.frameworks.mxnet.model import GluonChain
from dlarena.workloads import sequential


class Implementation(GluonChain):
    def chain(self) -> list[Layer]:
        return sequential.mobilenet_v2(self.cell.size)

"""mobilenet_v2 in Chainer: the chain of workloads/sequential.py (worker only)."""

from __future__ import annotations

from dlarena.contract.chain import Layer
from dlarena.frameworks.chainer.model import ChainerChain
from dlarena.workloads import sequential


class Implementation(ChainerChain):
    def chain(self) -> list[Layer]:
        return sequential.mobilenet_v2(self.cell.size)

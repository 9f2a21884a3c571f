"""mobilenet_v2 in PaddlePaddle (paddle.nn): the chain of workloads/sequential.py (worker only)."""

from __future__ import annotations

from dlarena.contract.chain import Layer
from dlarena.frameworks.paddle.model import PaddleChain
from dlarena.workloads import sequential


class Implementation(PaddleChain):
    def chain(self) -> list[Layer]:
        return sequential.mobilenet_v2(self.cell.size)

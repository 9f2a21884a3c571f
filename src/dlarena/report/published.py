"""Published figures that a run can be put beside (stdlib only).

Each table says where its numbers come from and on what hardware, so a report can show
them next to this machine's measurements without pretending they are comparable in
absolute terms: only the ratio between frameworks travels between machines.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    value: float
    spread: str  # as printed in the source: "± 27" or "± 1.3%"


@dataclass(frozen=True)
class PublishedTable:
    id: str
    citation: str
    hardware: str
    conditions: str
    scenario: str
    # The framework the source compares the others with; reports show ratios against it.
    reference: str
    # dlarena workload -> the source's column name.
    columns: dict[str, str]
    # dlarena framework -> workload -> figure.
    rows: dict[str, dict[str, Figure]]

    def ratio(self, first: str, second: str, workload: str) -> float | None:
        """first / second as published, or None when either is missing."""
        a, b = self.rows.get(first, {}).get(workload), self.rows.get(second, {}).get(workload)
        return a.value / b.value if a and b else None


PASZKE_2019 = PublishedTable(
    id="paszke2019",
    citation="Paszke et al., “PyTorch: An Imperative Style, High-Performance Deep Learning "
             "Library”, NeurIPS 2019, Table 1",
    hardware="one NVIDIA Quadro GP100 GPU, two Intel Xeon E5-2698 v4 CPUs",
    conditions="training throughput, 32-bit floats; images/s (AlexNet, VGG-19, ResNet-50, "
               "MobileNet), tokens/s (GNMTv2), samples/s (NCF)",
    scenario="train",
    reference="torch",
    columns={"alexnet": "AlexNet", "vgg19": "VGG-19", "resnet50": "ResNet-50",
             "mobilenet_v2": "MobileNet", "gnmt": "GNMTv2", "ncf": "NCF"},
    rows={
        "chainer": {"alexnet": Figure(778, "± 15"), "resnet50": Figure(219, "± 1")},
        "cntk": {"alexnet": Figure(845, "± 8"), "vgg19": Figure(84, "± 3"),
                 "resnet50": Figure(210, "± 1")},
        "mxnet": {
            "alexnet": Figure(1554, "± 22"), "vgg19": Figure(113, "± 1"),
            "resnet50": Figure(218, "± 2"), "mobilenet_v2": Figure(444, "± 2"),
        },
        "paddle": {
            "alexnet": Figure(933, "± 123"), "vgg19": Figure(112, "± 2"),
            "resnet50": Figure(192, "± 4"), "mobilenet_v2": Figure(557, "± 24"),
        },
        "tensorflow": {
            "alexnet": Figure(1422, "± 27"), "vgg19": Figure(66, "± 2"),
            "resnet50": Figure(200, "± 1"), "mobilenet_v2": Figure(216, "± 15"),
            "gnmt": Figure(9631, "± 1.3%"), "ncf": Figure(4.8e6, "± 2.9%"),
        },
        "torch": {
            "alexnet": Figure(1547, "± 316"), "vgg19": Figure(119, "± 1"),
            "resnet50": Figure(212, "± 2"), "mobilenet_v2": Figure(463, "± 17"),
            "gnmt": Figure(15512, "± 4.8%"), "ncf": Figure(5.4e6, "± 3.4%"),
        },
    },
)

TABLES: dict[str, PublishedTable] = {table.id: table for table in (PASZKE_2019,)}

"""The contract between the engine, the frameworks and the workloads.

The bottom layer: `frameworks/` and `workloads/` both build on it, and it imports neither.
"""

from dlarena.contract.deployment import PORTABLE_FORMATS, SAVE_KINDS, Deployment, Predict
from dlarena.contract.framework import FrameworkInfo
from dlarena.contract.implementation import (
    SGD_OPTION,
    Implementation,
    check_layout,
    stated_hyperparameters,
)
from dlarena.contract.outcome import ExportUnsupported
from dlarena.contract.runtime import DeviceUnavailable, Runtime
from dlarena.contract.workload import (
    STATE_SUFFIXES,
    AdamSettings,
    BatchNormSettings,
    OptimizerSettings,
    SgdSettings,
    Shape,
    SizeConfig,
    Weights,
    Workload,
)

__all__ = [
    "PORTABLE_FORMATS",
    "SAVE_KINDS",
    "SGD_OPTION",
    "STATE_SUFFIXES",
    "AdamSettings",
    "BatchNormSettings",
    "Deployment",
    "DeviceUnavailable",
    "ExportUnsupported",
    "FrameworkInfo",
    "Implementation",
    "OptimizerSettings",
    "Predict",
    "Runtime",
    "SgdSettings",
    "Shape",
    "SizeConfig",
    "Weights",
    "Workload",
    "check_layout",
    "stated_hyperparameters",
]

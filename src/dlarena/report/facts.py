"""What a report reads of the workload and framework definitions: units, FLOPs, modes, colours.

A run stores a snapshot of them, `Definitions.current().to_json()` under the key "definitions"
of its environment, when it is created; its reports read that snapshot (`Report.definitions`),
so an old run's figures do not change when the code does. A run stored before snapshots existed
is reported with today's definitions, and its reports say so. A workload or framework that a
snapshot lacks gets neutral answers instead of an error.

`unit` and `default_mode` at module level answer from today's code, for what runs now (the
progress display) rather than for a stored run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from dlarena import registry
from dlarena.analysis import derived
from dlarena.analysis.metrics import METRICS
from dlarena.cell import CellSpec

# Throughputs of model steps (a FLOP rate follows from them), then every throughput.
MODEL_THROUGHPUTS = ("train_throughput", "infer_throughput")
THROUGHPUTS = (*MODEL_THROUGHPUTS, "load_throughput", "train_from_files_throughput",
               "train_in_memory_throughput")

# How verdicts are reached from samples, so a report can tell a run stored under other rules.
# 1 = percentile bootstrap over the pooled samples;
# 2 = hierarchical bootstrap over processes then blocks of windows;
# 3 = as 2, each cell's between-process variance moderated by the run's (empirical Bayes).
VERDICT_RULES_VERSION = "5"
VERDICT_RULES = {
    "1": "percentile bootstrap over the pooled samples",
    "2": "hierarchical bootstrap over processes then blocks of windows",
    "3": "hierarchical bootstrap over processes then blocks of windows, each cell's "
         "between-process variance moderated by the run's (empirical Bayes)",
    "4": "paired by round where both sides have two or more rounds (a t interval on the "
         "rounds' log ratios of process medians, moderated by the run's pairs), else rules 3",
    "5": "each pair on its own rounds (a paired t interval on the rounds' log ratios of "
         "process medians, no noise borrowed from other workloads), frameworks in an order "
         "rotated each round, final at the pair's first decisive look, no meaningful "
         "difference by two one-sided tests at the stated margin",
}

# Layout of the stored snapshot; one this module does not know is refused, not misread.
DEFINITIONS_FORMAT = 1


@dataclass(frozen=True)
class WorkloadDefinition:
    unit: str  # what throughput counts: "samples", "images", "tokens"
    quality: str  # what val_accuracy measures: "accuracy", "hit rate@10"
    # Per size ("smoke", "cpu", "full"):
    items_per_sample: Mapping[str, int]  # units of `unit` in one sample
    forward_flops: Mapping[str, int]  # analytic FLOPs of one sample's forward pass
    train_flops: Mapping[str, int]  # and of its training step (forward and backward)


@dataclass(frozen=True)
class FrameworkDefinition:
    default_mode: str
    eager_mode: str | None
    colour: str | None  # hex; None: figures pick a spare one


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"stored definitions: {what} must be an object")
    return data


def _counts(data: Any, what: str) -> dict[str, int]:
    if not all(isinstance(value, int) for value in _mapping(data, what).values()):
        raise ValueError(f"stored definitions: {what} must map sizes to integers")
    return dict(data)


def _text(data: Any, what: str) -> str:
    if not isinstance(data, str):
        raise ValueError(f"stored definitions: {what} must be a string")
    return data


def _optional_text(data: Any, what: str) -> str | None:
    return None if data is None else _text(data, what)


@dataclass(frozen=True)
class Definitions:
    """Every workload's and framework's figures a report needs, as of one moment of the code."""

    workloads: Mapping[str, WorkloadDefinition]
    frameworks: Mapping[str, FrameworkDefinition]
    verdict_rules: str

    @classmethod
    def current(cls) -> Definitions:
        """Today's: every workload and framework the registry knows."""
        return _current()

    def to_json(self) -> dict[str, Any]:
        """Plain dicts, strings and integers: stored inside the run's environment."""
        return {
            "format": DEFINITIONS_FORMAT,
            "verdict_rules": self.verdict_rules,
            "workloads": {
                name: {"unit": w.unit, "quality": w.quality,
                       "items_per_sample": dict(w.items_per_sample),
                       "forward_flops": dict(w.forward_flops),
                       "train_flops": dict(w.train_flops)}
                for name, w in self.workloads.items()
            },
            "frameworks": {
                name: {"default_mode": f.default_mode, "eager_mode": f.eager_mode,
                       "colour": f.colour}
                for name, f in self.frameworks.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> Definitions:
        """The snapshot `to_json` made; ValueError when it is not one."""
        data = _mapping(data, "definitions")
        if data.get("format") != DEFINITIONS_FORMAT:
            raise ValueError(f"stored definitions in format {data.get('format')!r}; this "
                             f"dlarena reads format {DEFINITIONS_FORMAT}")
        workloads = {}
        for name, fields in _mapping(data.get("workloads"), "workloads").items():
            fields = _mapping(fields, f"workload {name}")
            workloads[name] = WorkloadDefinition(
                unit=_text(fields.get("unit"), f"{name}'s unit"),
                quality=_text(fields.get("quality"), f"{name}'s quality"),
                items_per_sample=_counts(fields.get("items_per_sample"),
                                         f"{name}'s items_per_sample"),
                forward_flops=_counts(fields.get("forward_flops"), f"{name}'s forward_flops"),
                train_flops=_counts(fields.get("train_flops"), f"{name}'s train_flops"),
            )
        frameworks = {}
        for name, fields in _mapping(data.get("frameworks"), "frameworks").items():
            fields = _mapping(fields, f"framework {name}")
            frameworks[name] = FrameworkDefinition(
                default_mode=_text(fields.get("default_mode"), f"{name}'s default_mode"),
                eager_mode=_optional_text(fields.get("eager_mode"), f"{name}'s eager_mode"),
                colour=_optional_text(fields.get("colour"), f"{name}'s colour"),
            )
        return cls(workloads, frameworks, _text(data.get("verdict_rules"), "verdict_rules"))

    def unit(self, metric: str, workload: str | None = None) -> str:
        """The metric's unit; a throughput counts the workload's own (images/s, tokens/s, …)."""
        found = self.workloads.get(workload) if workload is not None else None
        if metric in THROUGHPUTS and found is not None:
            return f"{found.unit}/s"
        return METRICS[metric].unit if metric in METRICS else ""

    def quality(self, workload: str) -> str:
        """What a convergence cell's val_accuracy measures for this workload (hit rate@10, …)."""
        found = self.workloads.get(workload)
        return found.quality if found is not None else "accuracy"

    def items_per_step(self, spec: CellSpec) -> int:
        """Units of throughput in one step of the cell (a batch of images, or of its tokens)."""
        found = self.workloads.get(spec.workload)
        return spec.batch_size * (found.items_per_sample.get(spec.size, 1) if found else 1)

    def achieved_gflops(self, spec: CellSpec, metric: str | None,
                        median: float | None) -> float | None:
        """FLOP rate of a train or infer cell at its median throughput (analytic FLOPs)."""
        found = self.workloads.get(spec.workload)
        if found is None or metric not in MODEL_THROUGHPUTS or median is None:
            return None
        flops = (found.train_flops if metric == "train_throughput"
                 else found.forward_flops).get(spec.size)
        items = found.items_per_sample.get(spec.size)
        if flops is None or items is None:
            return None
        return derived.gflops(median, items, flops)

    def default_mode(self, framework: str) -> str | None:
        found = self.frameworks.get(framework)
        return found.default_mode if found is not None else None

    def eager_mode(self, framework: str) -> str | None:
        """The framework's op-by-op mode, the baseline a compiled mode must repay."""
        found = self.frameworks.get(framework)
        return found.eager_mode if found is not None else None

    def colour(self, framework: str) -> str | None:
        found = self.frameworks.get(framework)
        return found.colour if found is not None else None


@cache
def _current() -> Definitions:
    workloads = {
        name: WorkloadDefinition(
            unit=workload.unit, quality=workload.quality,
            items_per_sample={size: workload.items_per_sample(size) for size in workload.sizes},
            forward_flops={size: workload.forward_flops(size) for size in workload.sizes},
            train_flops={size: workload.train_flops(size) for size in workload.sizes},
        )
        for name, workload in registry.workloads().items()
    }
    frameworks = {
        name: FrameworkDefinition(info.default_mode, info.eager_mode, info.colour)
        for name, info in registry.frameworks().items()
    }
    return Definitions(workloads, frameworks, VERDICT_RULES_VERSION)


def unit(metric: str, workload: str | None = None) -> str:
    """Today's unit of the metric (for a run in progress; a report asks its definitions)."""
    return Definitions.current().unit(metric, workload)


def default_mode(framework: str) -> str | None:
    """Today's default mode of the framework (a report asks its definitions)."""
    return Definitions.current().default_mode(framework)

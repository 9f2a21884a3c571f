"""Training to an accuracy on a real dataset: the scenario that takes a dataset and epochs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlarena.contract import Workload
from dlarena.errors import UsageError
from dlarena.scenarios.base import Scenario

DEFAULT_EPOCHS = 20


@dataclass(frozen=True)
class Convergence(Scenario):
    takes: tuple[str, ...] = ("dataset", "epochs")

    def options(self, workload: Workload, suite_options: Mapping[str, Any],
                asked: Mapping[str, Any]) -> dict[str, Any]:
        options = dict(suite_options)
        supported = workload.datasets
        if asked.get("dataset") is not None:
            options["dataset"] = asked["dataset"]
        options.setdefault("dataset", supported[0] if supported else None)
        if options["dataset"] not in supported:
            raise UsageError(f"{workload.name} does not train on dataset "
                             f"{options['dataset']!r}; valid: {', '.join(supported) or 'none'}")
        if asked.get("epochs") is not None:
            options["epochs"] = asked["epochs"]
        options.setdefault("epochs", DEFAULT_EPOCHS)
        return options

    def timeout_factor(self, options: Mapping[str, Any]) -> float:
        """One size's timeout for the set-up, and one per epoch."""
        return 1.0 + int(options.get("epochs", 0))

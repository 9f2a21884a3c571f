"""`--model SPEC`: the user's model becomes the run's (or the check's) one workload."""

from __future__ import annotations

import argparse

from dlarena import registry
from dlarena.engine import environment
from dlarena.errors import UsageError


def apply(args: argparse.Namespace, interpreters: dict[str, str]) -> None:
    """With --model: describe the model (a child process builds it once), make it the one
    workload, and choose every installed framework that runs it unless --frameworks names
    some. A model that cannot be used is one line (UsageError), before any store is opened."""
    if args.model is None:
        for flag, value in (("--vocabulary", args.vocabulary), ("--data", args.data)):
            if value is not None:
                raise UsageError(f"{flag} applies to a model given with --model")
        return
    if args.workloads:
        raise UsageError("--model is the run's one workload: leave out --workloads")
    try:
        model = registry.use_model(args.model, vocabulary=args.vocabulary, data=args.data)
    except registry.ModelError as error:
        raise UsageError(str(error)) from None
    args.workloads = [model.name]
    if "scenarios" in args and args.scenarios is None:
        args.scenarios = list(model.default_scenarios)
    if args.modes is None:
        args.modes = list(model.default_modes)
    if not args.frameworks:
        installed = environment.installed_frameworks(interpreters)
        args.frameworks = [name for name in registry.names() if name in installed
                           and registry.implementation_path(model.name, name) is not None]
        if not args.frameworks:
            raise UsageError(f"no installed framework runs {args.model}: see `dlarena list` "
                             "for install commands")

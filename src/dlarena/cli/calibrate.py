"""`dlarena calibrate`: the A/A control. A framework is measured against its identical twin
(`registry.twin`) in independent adaptive runs, exactly as `run` measures a comparison; every
"X faster" between them is a false verdict. Each report shows the machine's latest count."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from dlarena import registry
from dlarena.errors import UsageError


def calibrate(args: argparse.Namespace) -> int:
    from dlarena.cli import output
    from dlarena.cli.commands import forked_scenarios, interpreters_named
    from dlarena.cli.progress import ConsoleObserver
    from dlarena.engine.plan import Request
    from dlarena.engine.runner import execute, prepare
    from dlarena.executors.local import LocalExecutor
    from dlarena.report import control
    from dlarena.report.build import build_report
    from dlarena.report.table import verdict_lines
    from dlarena.store import Store

    name = args.framework
    if name not in registry.names():
        raise UsageError(f"unknown framework {name!r}; valid: {', '.join(registry.names())}")
    twin = registry.twin(registry.frameworks()[name]).name
    request = Request(suite="default", frameworks=[name, twin], workloads=args.workloads,
                      scenarios=["train"], size=args.size, modes=["default"],
                      until_decided=True, equivalence=args.equivalence,
                      max_rounds=args.max_rounds)
    interpreters = interpreters_named(args.python)
    if name in interpreters:  # the twin runs where its framework runs
        interpreters[twin] = interpreters[name]
    prepared = prepare(request, interpreters)
    console = output.console()
    # Which workers it calibrates: a control on forked workers says nothing of fresh ones.
    session = {"calibration": {"framework": name, "runs": args.runs,
                               "workers": "forked" if args.fork_servers else "fresh",
                               "started_utc": datetime.now(UTC).isoformat(timespec="seconds")}}
    executor = LocalExecutor(interpreters, forked_scenarios=forked_scenarios(args))
    failed = 0
    try:
        store = Store.open(args.db)
        try:
            for index in range(args.runs):
                console.print(f"[bold]A/A run {index + 1} of {args.runs}[/bold]: {name} "
                              f"against {twin}")
                summary = execute(prepared, store=store, executor=executor,
                                  observer=ConsoleObserver(console), fresh=True,
                                  labels=session)
                failed += summary.failed
                for line in verdict_lines(build_report(store, summary.run_id, control=False)):
                    console.print(f"  • {line}", markup=False, highlight=False)
            report = build_report(store)
        finally:
            store.close()
    finally:
        executor.close()
    console.print(control.summary(report.control), markup=False, highlight=False,
                  soft_wrap=True)
    return 1 if failed else 0

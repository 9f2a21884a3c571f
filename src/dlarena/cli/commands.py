"""One function per command: from parsed arguments to the engine, the store and a report.

Imports are inside each command so `dlarena list` does not pay for what `report` needs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dlarena import jsonsafe
from dlarena.cli import model, output
from dlarena.errors import UsageError


def run(args: argparse.Namespace) -> int:
    from dlarena.cell import ThreadSettings
    from dlarena.cli.progress import ConsoleObserver
    from dlarena.engine.plan import Request
    from dlarena.engine.runner import default_threads, execute, prepare
    from dlarena.report import terminal
    from dlarena.report.build import build_report
    from dlarena.store import Store

    interpreters = interpreters_named(args.python)
    model.apply(args, interpreters)
    threads = None
    if args.threads or args.interop_threads:
        default = default_threads()
        threads = ThreadSettings(args.threads or default.intra_op,
                                 args.interop_threads or default.inter_op)
    request = Request(
        suite=args.suite, frameworks=args.frameworks, workloads=args.workloads,
        scenarios=args.scenarios, size=args.size, modes=args.modes,
        batch_sizes=args.batch_sizes or ([args.batch_size] if args.batch_size else None),
        device=args.device, threads=threads, processes=args.processes or args.seeds,
        windows=args.windows, epochs=args.epochs, dataset=args.dataset,
        min_window_seconds=args.min_window, timeout_seconds=args.timeout, seed=args.seed,
        check_parity=not args.no_parity, until_decided=args.until_decided,
        sweep=_sweep(args), equivalence=args.equivalence, max_rounds=args.max_rounds,
    )
    reference = _reference(args.reference)
    # Every input is checked before the store is opened: a mistake leaves no file behind.
    prepared = prepare(request, interpreters)
    console = output.console()
    executor = _executor(args, interpreters, console)
    try:
        store = Store.open(args.db)
        try:
            summary = execute(prepared, store=store, executor=executor,
                              observer=ConsoleObserver(console), fresh=args.fresh)
            report = build_report(store, summary.run_id)
            terminal.render(report, console, reference=reference)
        finally:
            store.close()
    finally:
        executor.close()
    if report.unsupported:
        console.print(f"{len(report.unsupported)} cell(s) unsupported here, each with its "
                      "reason above: recorded outcomes, not failures")
    if summary.failed:
        console.print(f"[red]{summary.failed} worker process(es) failed; "
                      "their errors are stored and shown above[/red]")
        return 1
    return 0


def _executor(args: argparse.Namespace, interpreters: dict[str, str], console: Any) -> Any:
    """The executor `run` asked for; a cluster that cannot take the run is a usage error."""
    from dlarena.executors.local import LocalExecutor

    if args.executor == "local":
        if args.address or args.ray_machine:
            raise UsageError("--address and --ray-machine need --executor ray")
        return LocalExecutor(interpreters, forked_scenarios=forked_scenarios(args))
    from dlarena.executors.ray import ClusterError, RayExecutor

    try:
        executor = RayExecutor(interpreters, address=args.address, machine=args.ray_machine)
    except ClusterError as error:
        raise UsageError(str(error)) from None
    console.print(f"Ray cluster {args.address or '(private: loopback only)'}: {executor.slots} "
                  "node(s) measuring, one cell each at a time")
    return executor


def forked_scenarios(args: argparse.Namespace) -> frozenset[str]:
    """The scenarios whose workers fork from a pre-imported server (the default); none with
    --no-fork-servers (every process starts afresh)."""
    from dlarena.scenarios import pre_imported

    return pre_imported() if args.fork_servers else frozenset()


def check(args: argparse.Namespace) -> int:
    from dlarena import registry
    from dlarena.cell import DTYPES, ThreadSettings
    from dlarena.engine import environment
    from dlarena.engine.plan import Request, build_plan
    from dlarena.engine.runner import check_installed, default_threads
    from dlarena.executors.local import LocalExecutor
    from dlarena.parity.check import check_workloads
    from dlarena.parity.compare import REDUCED_PRECISION_LIMIT, TOLERANCES
    from dlarena.report.sanitise import terminal

    threads = ThreadSettings(args.threads, args.threads) if args.threads else default_threads()
    interpreters = interpreters_named(args.python)
    model.apply(args, interpreters)
    frameworks = args.frameworks or environment.installed_frameworks(interpreters)
    if not frameworks:
        raise UsageError("no framework is installed: see `dlarena list` for install commands")
    # Validates every name the way `run` does, and resolves the modes.
    planned = build_plan(Request(frameworks=frameworks,
                                 workloads=args.workloads or list(registry.workloads()),
                                 scenarios=["train"], size=args.size, device=args.device,
                                 modes=args.modes or ["default"]),
                         threads)
    variants = list(dict.fromkeys((p.cell.framework, p.cell.mode) for p in planned))
    check_installed(list(dict.fromkeys(framework for framework, _ in variants)), interpreters)
    console = output.console()
    if not args.frameworks:
        console.print("checking every installed framework: "
                      f"{', '.join(dict.fromkeys(framework for framework, _ in variants))}")
    checks = check_workloads(
        list(dict.fromkeys(p.cell.workload for p in planned)), variants, size=args.size,
        device=args.device, threads=threads, executor=LocalExecutor(interpreters),
        on_workload=lambda workload, names: console.print(
            f"checking {workload} in {', '.join(names)}…", style="dim"))
    failed = 0
    for checked in checks:
        if not checked.results:
            names = [f"{framework}/{mode}" for framework, mode in checked.variants]
            console.print(f"{checked.workload}: only {', '.join(names) or 'none'} "
                          "of them implements it; nothing to compare")
        for result in checked.results:
            if not result.same_model:
                verdict = "[red]DIFFERENT[/red]"
            elif result.reduced_precision:
                verdict = "[red]same model, but a timed path computes at reduced precision[/red]"
            else:
                verdict = "[green]same model[/green]"
            console.print(f"[bold]{checked.workload}[/bold] ({args.size}): "
                          f"{result.first_label} vs {result.second_label}, checked in "
                          f"{DTYPES[result.precision]}: {verdict}")
            if result.error:
                console.print(f"  ✗ {terminal(result.error)}")
            for item in result.checks:
                mark = "[green]✓[/green]" if item.passed else "[red]✗[/red]"
                console.print(f"  {mark} {terminal(item.name)}: {terminal(item.detail)}")
            for audit in result.audits:
                mark = "[red]✗[/red]" if audit.reduced else "[green]✓[/green]"
                console.print(f"  {mark} precision of the timed path, {terminal(audit.describe())}")
            failed += not result.passed
    console.print("tolerances relative to max(1, max |reference|), from float64 agreement: "
                  + ", ".join(f"{name} {tolerance:.0e}" for name, tolerance in TOLERANCES.items())
                  + f"; a timed path is flagged at {REDUCED_PRECISION_LIMIT:.0f}x float32's "
                  "expected rounding error")
    return 1 if failed else 0


def listing(args: argparse.Namespace) -> int:
    from dlarena.cli import listing as listing_module

    data = listing_module.listing(interpreters_named(args.python))
    if args.json:
        print(jsonsafe.dumps(data, indent=2))
    else:
        print(listing_module.render_listing(data))
    return 0


def report(args: argparse.Namespace) -> int:
    from dlarena.report.build import build_report
    from dlarena.store import Store

    if args.machines or args.runs:
        from dlarena.cli import machines

        return machines.report(args)
    reference = _reference(args.reference)
    out = output.out_file(args.out, args.db)
    store = Store.read(args.db)
    try:
        try:
            report = build_report(store, args.run)
        except LookupError as error:
            raise UsageError(str(error)) from None
    finally:
        store.close()
    if args.format == "terminal" and out is None:
        from dlarena.report import terminal

        terminal.render(report, output.console(), reference=reference)
        return 0
    text = _render_text(report, args.format, reference)
    return output.write_report(text, out)


def _sweep(args: argparse.Namespace) -> dict[str, list[Any]] | None:
    """The data scenarios' swept options the command line gives (None: the scenarios')."""
    from dlarena.scenarios import pipelines

    given = {pipelines.WORKERS_OPTION: args.loader_workers,
             pipelines.FORMAT_OPTION: args.file_formats}
    return {name: values for name, values in given.items() if values} or None


def interpreters_named(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """--python FRAMEWORK=PATH, each naming a known framework, once; the others run in
    their own environment where they have one (environment.interpreters)."""
    from dlarena import registry
    from dlarena.engine import environment

    interpreters: dict[str, str] = {}
    for name, path in pairs:
        if name not in registry.frameworks():
            raise UsageError(f"unknown framework {name!r} in --python; valid: "
                             f"{', '.join(registry.names())}")
        if name in interpreters:
            raise UsageError(f"--python names {name} twice")
        interpreters[name] = path
    return environment.interpreters(interpreters)


def _reference(name: str | None) -> str | None:
    """The paper table's reference framework, if the user named one (a known framework)."""
    from dlarena import registry

    if name is not None and name not in registry.frameworks():
        raise UsageError(f"unknown --reference {name!r}; valid: "
                         f"{', '.join(registry.names())}")
    return name


def _render_text(report: Any, format_name: str, reference: str | None) -> str:
    if format_name == "html":
        from dlarena.report import html

        return html.render(report, reference=reference)
    if format_name == "csv":
        from dlarena.report.records import render_csv

        return render_csv(report)
    if format_name == "json":
        from dlarena.report import json as json_report

        return json_report.render(report, reference=reference)
    if format_name == "markdown":
        from dlarena.report import markdown

        return markdown.render(report, reference=reference)
    from dlarena.report import terminal

    return output.plain_text(lambda console: terminal.render(report, console,
                                                             reference=reference))


def compare(args: argparse.Namespace) -> int:
    from dlarena.report import compare_render
    from dlarena.report.compare import compare_runs
    from dlarena.store import Store

    store = Store.read(args.db)
    try:
        result = compare_runs(store, args.first, args.second)
    finally:
        store.close()
    if args.format == "json":
        print(compare_render.json_text(result))
    else:
        compare_render.terminal(result, output.console())
    return 0


def env(args: argparse.Namespace) -> int:
    from dlarena import registry
    from dlarena.engine import environment
    from dlarena.engine.runner import default_threads

    installed = environment.installed_frameworks({})
    threads = default_threads()
    peaks = environment.matmul_peaks({name: sys.executable for name in installed}, threads=threads)
    versions = {name: environment.framework_version(registry.frameworks()[name])
                for name in installed}
    print(jsonsafe.dumps(environment.fingerprint(
        versions, {"intra_op": threads.intra_op, "inter_op": threads.inter_op}, peaks=peaks),
        indent=2))
    return 0

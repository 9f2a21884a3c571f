"""Command line: run, list, report, env. Imports no framework, and nothing heavy up front."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlarena.errors import UsageError

DEFAULT_DB = "results/dlarena.db"


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return names


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_ints(text: str) -> list[int]:
    return [_positive_int(part.strip()) for part in _names(text)]


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _interpreter(text: str) -> tuple[str, str]:
    framework, sep, path = text.partition("=")
    if not sep or not framework or not path:
        raise argparse.ArgumentTypeError(f"expected FRAMEWORK=PATH, got {text!r}")
    return framework, path


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dlarena",
        description="Compare deep-learning frameworks on the same models, measured the same way.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="measure a suite of cells and print the comparison")
    run.add_argument("--suite", default="default", help="named set of cells (see `list`)")
    run.add_argument("--frameworks", type=_names, help="comma-separated, e.g. torch,tensorflow")
    run.add_argument("--workloads", type=_names, help="comma-separated, e.g. mlp,cnn")
    run.add_argument("--scenarios", type=_names, help="comma-separated, e.g. train,infer")
    run.add_argument("--size", help="smoke | cpu | full (default: the suite's)")
    run.add_argument("--batch-size", type=_positive_int, help="override each workload's default")
    run.add_argument("--batch-sizes", type=_positive_ints,
                     help="comma-separated: a batch-size sweep, e.g. 1,8,32,128")
    run.add_argument("--modes", type=_names,
                     help="framework modes, or default|eager|compiled|all (default: the suite's)")
    run.add_argument("--device", default="cpu", help="cpu | gpu (no silent fallback)")
    run.add_argument("--threads", type=_positive_int,
                     help="intra-op threads for every framework (default: CPUs available)")
    run.add_argument("--interop-threads", type=_positive_int,
                     help="inter-op threads for every framework (default: CPUs available)")
    run.add_argument("--processes", type=_positive_int,
                     help="worker processes per cell, interleaved across frameworks "
                          "(default: the suite's)")
    run.add_argument("--windows", type=_positive_int, help="timed windows per process")
    run.add_argument("--epochs", type=_positive_int, help="convergence: epochs per cell")
    run.add_argument("--seeds", type=_positive_int,
                     help="convergence: seeds, one worker process each (same as --processes)")
    run.add_argument("--dataset", help="convergence: dataset (default: the suite's)")
    run.add_argument("--min-window", type=_positive_float,
                     help="seconds of work per timed window (default: by size)")
    run.add_argument("--timeout", type=_positive_float, help="seconds per worker process")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--python", type=_interpreter, action="append", default=[],
                     metavar="FRAMEWORK=PATH", help="interpreter for one framework's workers")
    run.add_argument("--db", default=DEFAULT_DB, help=f"SQLite results file ({DEFAULT_DB})")
    run.add_argument("--fresh", action="store_true",
                     help="start a new run instead of resuming the stored one")
    run.add_argument("--no-parity", action="store_true",
                     help="skip the same-model check (verdicts then say it was not checked)")

    check = commands.add_parser(
        "check", help="prove implementations compute the same function (parity), in workers")
    check.add_argument("--frameworks", type=_names, help="default: torch,tensorflow")
    check.add_argument("--workloads", type=_names, help="default: every workload")
    check.add_argument("--size", default="smoke", help="smoke | cpu | full (default: smoke)")
    check.add_argument("--device", default="cpu", help="cpu | gpu")
    check.add_argument("--threads", type=_positive_int, help="default: CPUs available")
    check.add_argument("--python", type=_interpreter, action="append", default=[],
                       metavar="FRAMEWORK=PATH")

    listing = commands.add_parser("list", help="frameworks, workloads, scenarios and suites")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--python", type=_interpreter, action="append", default=[],
                         metavar="FRAMEWORK=PATH")

    report = commands.add_parser("report", help="show a stored run")
    report.add_argument("--db", default=DEFAULT_DB)
    report.add_argument("--run", type=_positive_int, help="run id (default: the latest)")
    report.add_argument("--format", default="terminal",
                        choices=("terminal", "markdown", "json", "csv", "html"))
    report.add_argument("--out", help="write to this file instead of standard output")

    compare = commands.add_parser("compare", help="what changed between two stored runs")
    compare.add_argument("first", type=_positive_int, metavar="RUN_A")
    compare.add_argument("second", type=_positive_int, metavar="RUN_B")
    compare.add_argument("--db", default=DEFAULT_DB)
    compare.add_argument("--format", default="terminal", choices=("terminal", "json"))

    commands.add_parser("env", help="this machine's fingerprint, as stored with every run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handlers = {"run": _run, "check": _check, "list": _list, "report": _report,
                    "compare": _compare, "env": _env}
        handler = handlers[args.command]
        return handler(args)
    except UsageError as error:
        print(f"dlarena: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlarena: interrupted; finished cells are stored: run the same command to resume",
              file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from dlarena.cell import ThreadSettings
    from dlarena.cli.progress import ConsoleObserver
    from dlarena.executors.local import LocalExecutor
    from dlarena.plan import Request
    from dlarena.report import terminal
    from dlarena.report.build import build_report
    from dlarena.runner import default_threads, run
    from dlarena.store import Store

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
        check_parity=not args.no_parity,
    )
    interpreters = dict(args.python)
    console = _console()
    store = Store.open(args.db)
    try:
        summary = run(request, store=store, executor=LocalExecutor(interpreters),
                      observer=ConsoleObserver(console), interpreters=interpreters,
                      fresh=args.fresh)
        terminal.render(build_report(store, summary.run_id), console)
    finally:
        store.close()
    if summary.failed:
        console.print(f"[red]{summary.failed} worker process(es) failed; "
                      "their errors are stored and shown above[/red]")
        return 1
    return 0


def _check(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from dlarena import registry
    from dlarena.cell import ThreadSettings
    from dlarena.executors.local import LocalExecutor
    from dlarena.parity.check import check_workload
    from dlarena.parity.compare import FORWARD_TOLERANCE, LOSS_TOLERANCE
    from dlarena.plan import Request, build_plan
    from dlarena.runner import check_installed, default_threads

    threads = ThreadSettings(args.threads, args.threads) if args.threads else default_threads()
    # Validates every name the way `run` does.
    planned = build_plan(Request(frameworks=args.frameworks or ["torch", "tensorflow"],
                                 workloads=args.workloads or list(registry.workloads()),
                                 scenarios=["train"], size=args.size, device=args.device),
                         threads)
    interpreters = dict(args.python)
    check_installed(sorted({p.cell.framework for p in planned}), interpreters)
    console = _console()
    failed = 0
    workloads = list(dict.fromkeys(p.cell.workload for p in planned))
    for workload in workloads:
        frameworks = list(dict.fromkeys(p.cell.framework for p in planned
                                        if p.cell.workload == workload))
        if len(frameworks) < 2:
            console.print(f"{workload}: only {', '.join(frameworks)} implements it; "
                          "nothing to compare")
            continue
        with console.status(f"checking {workload} in {', '.join(frameworks)}…"):
            results = check_workload(workload, frameworks, size=args.size, device=args.device,
                                     threads=threads, executor=LocalExecutor(interpreters))
        for result in results:
            verdict = "[green]same model[/green]" if result.passed else "[red]DIFFERENT[/red]"
            console.print(f"[bold]{workload}[/bold] ({args.size}): {result.first} vs "
                          f"{result.second}: {verdict}")
            if result.error:
                console.print(f"  ✗ {escape(result.error)}")
            for item in result.checks:
                mark = "[green]✓[/green]" if item.passed else "[red]✗[/red]"
                console.print(f"  {mark} {escape(item.name)}: {escape(item.detail)}")
            failed += not result.passed
    console.print(f"tolerances relative to max(1, max |reference|): outputs and gradients "
                  f"{FORWARD_TOLERANCE:.0e}, losses and trained weights {LOSS_TOLERANCE:.0e}")
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    from dlarena.cli.listing import listing, render_listing

    data = listing(dict(args.python))
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(render_listing(data))
    return 0


def _report(args: argparse.Namespace) -> int:
    from dlarena.report.build import build_report
    from dlarena.store import Store

    store = Store.open(args.db, create=False)
    try:
        try:
            report = build_report(store, args.run)
        except LookupError as error:
            raise UsageError(str(error)) from None
    finally:
        store.close()
    if args.format == "terminal" and not args.out:
        from dlarena.report import terminal

        terminal.render(report, _console())
        return 0
    text = _render_text(report, args.format)
    if args.out:
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
        except OSError as error:
            raise UsageError(f"cannot write --out {out}: {error}") from None
        print(f"report written to {out.resolve()}")
    else:
        sys.stdout.write(text)
    return 0


def _console() -> Any:
    """A console that keeps the table readable when the output is a file or a pipe."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 160))
    return console


def _render_text(report: Any, format_name: str) -> str:
    if format_name == "html":
        from dlarena.report import html

        return html.render(report)
    if format_name == "csv":
        from dlarena.report.records import render_csv

        return render_csv(report)
    if format_name == "json":
        from dlarena.report import json as json_report

        return json_report.render(report)
    if format_name == "markdown":
        from dlarena.report import markdown

        return markdown.render(report)
    from io import StringIO

    from rich.console import Console

    from dlarena.report import terminal

    buffer = StringIO()
    terminal.render(report, Console(file=buffer, width=160, highlight=False, color_system=None))
    return buffer.getvalue()


def _compare(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from dlarena.report import formatting as fmt
    from dlarena.report.compare import compare_runs
    from dlarena.store import Store

    store = Store.open(args.db, create=False)
    try:
        result = compare_runs(store, args.first, args.second)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps({
            "first": result.first.id, "second": result.second.id,
            "environment_differences": result.environment_differences,
            "only_first": result.only_first, "only_second": result.only_second,
            "changes": [{"cell": c.label, "metric": c.metric, "before": c.before,
                         "after": c.after, "ratio": c.verdict.ratio,
                         "ci_low": c.verdict.interval[0] if c.verdict.interval else None,
                         "ci_high": c.verdict.interval[1] if c.verdict.interval else None,
                         "significant": c.verdict.significant, "text": c.verdict.text}
                        for c in result.changes],
        }, indent=2))
        return 0
    console = _console()
    if result.environment_differences:
        console.print("[yellow bold]warning: the environments differ; a change may be the "
                      "machine's, not the code's:[/yellow bold]")
        for line in result.environment_differences:
            console.print(f"  [yellow]{escape(line)}[/yellow]")
    table = Table(title=f"run {result.first.id} → run {result.second.id}", title_justify="left")
    for name in ("cell", "metric", f"run {result.first.id}", f"run {result.second.id}",
                 "ratio", "95% CI", "verdict"):
        table.add_column(name, overflow="fold")
    for change in result.changes:
        verdict = change.verdict
        table.add_row(escape(change.label), change.metric, fmt.number(change.before),
                      fmt.number(change.after), f"{verdict.ratio:.3f}",
                      fmt.interval(verdict.interval) if verdict.interval else "–",
                      escape(verdict.text), style="bold" if verdict.significant else None)
    console.print(table)
    for name, labels in ((f"only in run {result.first.id}", result.only_first),
                         (f"only in run {result.second.id}", result.only_second)):
        if labels:
            console.print(f"{name}: {escape(', '.join(labels))}")
    console.print(f"{len(result.significant)} significant change(s) of {len(result.changes)}")
    return 0


def _env(args: argparse.Namespace) -> int:
    from dlarena import environment, registry
    from dlarena.measure import peak
    from dlarena.runner import default_threads

    installed = [name for name, info in registry.frameworks().items()
                 if not info.test_double and environment.framework_version(info) is not None]
    peaks = peak.matmul_peaks({name: sys.executable for name in installed},
                              threads=default_threads())
    print(json.dumps({**environment.machine_fingerprint(),
                      "matmul_peak_gflops": peak.ceiling(peaks),
                      "matmul_peaks_gflops": peaks}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

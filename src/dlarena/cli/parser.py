"""The command line's grammar: commands, flags, and the checks argparse can make alone."""

from __future__ import annotations

import argparse
import math
from typing import Any

from dlarena.errors import UsageError

DEFAULT_DB = "results/dlarena.db"


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"{', '.join(map(repr, twice))} given twice")
    return names


def _integer(text: str, kind: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {_shown(text)}") from None


def _positive_int(text: str) -> int:
    value = _integer(text, "a positive integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_ints(text: str) -> list[int]:
    return [_positive_int(part.strip()) for part in _names(text)]


def _counts(text: str) -> list[int]:
    """Comma-separated whole numbers from 0 (loader workers)."""
    values = []
    for part in _names(text):
        if not part.strip().isdigit() or len(part.strip()) > 4:
            raise argparse.ArgumentTypeError(f"expected whole numbers from 0 to 9999, "
                                             f"got {_shown(part)}")
        values.append(int(part))
    return values


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number, got {_shown(text)}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _seed(text: str) -> int:
    return _integer(text, "an integer")


def _shown(text: str) -> str:
    """A value in a message, shortened: a 5,000-digit number need not be echoed in full."""
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "…"


def _interpreter(text: str) -> tuple[str, str]:
    framework, sep, path = text.partition("=")
    if not sep or not framework or not path:
        raise argparse.ArgumentTypeError(f"expected FRAMEWORK=PATH, got {text!r}")
    return framework, path


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")


def _process_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fork-servers", action=argparse.BooleanOptionalAction, default=True,
                        help="fork train, infer and latency workers on the CPU from a server "
                             "that imported the framework once per framework and round "
                             "(default); --no-fork-servers starts every worker afresh "
                             "(docs/methodology.md: the A/A control of both)")


def _stopping_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--equivalence", type=_margin, metavar="PERCENT",
                         help="adaptive runs: ratios within ±this are 'no meaningful "
                              "difference', e.g. 5%% (default: 5%%)")
    command.add_argument("--max-rounds", type=_positive_int,
                         help="adaptive runs: the most worker processes per cell (default: 5)")


def _margin(text: str) -> float:
    """"5%" or "0.05" -> 0.05; a margin from 0.1% to 50%."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a margin: {text!r} (e.g. 5%)") from None
    if not 0.001 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"a margin from 0.1% to 50%, got {text!r}")
    return value


def _model_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--model", metavar="SPEC",
                         help="your own model as the run's one workload: a saved model file, "
                              "file.py:function or package.module:function (docs/models.md)")
    command.add_argument("--vocabulary", type=_positive_int,
                         help="with --model: integer inputs range over 0..N-1 (default: the "
                              "first embedding's size)")
    command.add_argument("--data", metavar="FILE.npz",
                         help="with --model: batches drawn from these arrays (inputs, labels) "
                              "instead of synthetic ones")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dlarena",
        description="Compare deep-learning frameworks on the same models, measured the same way.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="measure a suite of cells and print the comparison")
    run.add_argument("--suite", default="default", help="named set of cells (see `list`)")
    run.add_argument("--frameworks", type=_names,
                     help="comma-separated names (see `list`; default: the suite's rule)")
    run.add_argument("--workloads", type=_names, help="comma-separated, e.g. mlp,cnn")
    run.add_argument("--scenarios", type=_names, help="comma-separated, e.g. train,infer")
    run.add_argument("--size", help="smoke | cpu | full (default: the suite's)")
    batch = run.add_mutually_exclusive_group()
    batch.add_argument("--batch-size", type=_positive_int, help="override each workload's default")
    batch.add_argument("--batch-sizes", type=_positive_ints,
                       help="comma-separated: a batch-size sweep, e.g. 1,8,32,128")
    run.add_argument("--loader-workers", type=_counts,
                     help="data scenarios: comma-separated loader workers to sweep "
                          "(default: 0,1,2)")
    run.add_argument("--file-formats", type=_names,
                     help="dataload: jpeg and/or records (default: both)")
    run.add_argument("--modes", type=_names,
                     help="framework modes, or default|eager|compiled|all (default: the suite's)")
    run.add_argument("--device", default="cpu", help="cpu | gpu (no silent fallback)")
    run.add_argument("--threads", type=_positive_int,
                     help="intra-op threads for every framework (default: CPUs available)")
    run.add_argument("--interop-threads", type=_positive_int,
                     help="inter-op threads for every framework (default: CPUs available)")
    replicates = run.add_mutually_exclusive_group()
    replicates.add_argument("--processes", type=_positive_int,
                            help="worker processes per cell, interleaved across frameworks "
                                 "(default: the suite's)")
    run.add_argument("--windows", type=_positive_int, help="timed windows per process")
    run.add_argument("--epochs", type=_positive_int, help="convergence: epochs per cell")
    replicates.add_argument("--seeds", type=_positive_int,
                            help="convergence: seeds, one worker process each "
                                 "(same as --processes)")
    run.add_argument("--dataset", help="convergence: dataset (default: the suite's)")
    run.add_argument("--min-window", type=_positive_float,
                     help="seconds of work per timed window (default: by size)")
    run.add_argument("--timeout", type=_positive_float, help="seconds per worker process")
    run.add_argument("--seed", type=_seed, default=0,
                     help="base seed; worker process N of a cell uses seed + N")
    run.add_argument("--python", type=_interpreter, action="append", default=[],
                     metavar="FRAMEWORK=PATH", help="interpreter for one framework's workers")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local: one worker process at a time on this machine; ray: cells as "
                          "tasks on a Ray cluster, one per node at a time (docs/distributed.md)")
    run.add_argument("--address", help="with --executor ray: the cluster's address "
                                       "(default: a private local cluster on 127.0.0.1)")
    run.add_argument("--ray-machine", metavar="RESOURCE",
                     help="with --executor ray: only nodes offering this custom resource "
                          "(a machine type) measure")
    run.add_argument("--db", default=DEFAULT_DB, help=f"SQLite results file ({DEFAULT_DB})")
    run.add_argument("--fresh", action="store_true",
                     help="start a new run instead of resuming the stored one")
    run.add_argument("--until-decided", action=argparse.BooleanOptionalAction, default=None,
                     help="measure in rounds (a fresh process per cell each) until every pair "
                          "is decided or the budget is spent (default: the suite's)")
    run.add_argument("--reference", metavar="FRAMEWORK",
                     help="paper table: ratios against this framework (default: the paper's)")
    run.add_argument("--no-parity", action="store_true",
                     help="skip the same-model check (verdicts then say it was not checked)")
    _process_arguments(run)
    _stopping_arguments(run)
    _model_arguments(run)

    calibrate = commands.add_parser(
        "calibrate", help="the A/A control: a framework against its identical twin, in rounds "
                          "as `run` measures; every report shows the machine's latest count")
    calibrate.add_argument("--framework", required=True, help="the framework to twin")
    calibrate.add_argument("--workloads", type=_names,
                           help="comma-separated (default: the default suite's it implements)")
    calibrate.add_argument("--size", default="cpu", help="smoke | cpu | full (default: cpu)")
    calibrate.add_argument("--runs", type=_positive_int, default=3,
                           help="independent adaptive runs, each a fresh run (default: 3)")
    calibrate.add_argument("--python", type=_interpreter, action="append", default=[],
                           metavar="FRAMEWORK=PATH")
    calibrate.add_argument("--db", default=DEFAULT_DB, help=f"SQLite results file ({DEFAULT_DB})")
    _process_arguments(calibrate)
    _stopping_arguments(calibrate)

    check = commands.add_parser(
        "check", help="prove implementations compute the same function (parity), in workers")
    check.add_argument("--frameworks", type=_names, help="default: every installed framework")
    check.add_argument("--workloads", type=_names, help="default: every workload")
    check.add_argument("--modes", type=_names,
                       help="framework modes, or default|eager|compiled|all (default: default)")
    check.add_argument("--size", default="smoke", help="smoke | cpu | full (default: smoke)")
    check.add_argument("--device", default="cpu", help="cpu | gpu")
    check.add_argument("--threads", type=_positive_int, help="default: CPUs available")
    check.add_argument("--python", type=_interpreter, action="append", default=[],
                       metavar="FRAMEWORK=PATH")
    _model_arguments(check)

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
    report.add_argument("--reference", metavar="FRAMEWORK",
                        help="paper table: ratios against this framework (default: the paper's)")

    report.add_argument("--machines", action="store_true",
                        help="machines side by side: the latest run of each machine in the "
                             "store (or --runs), with a hardware column")
    report.add_argument("--runs", type=_positive_ints,
                        help="with --machines: these runs, comma-separated")

    export = commands.add_parser(
        "export", help="one stored run as a self-describing bundle (for `dlarena import`)")
    export.add_argument("--db", default=DEFAULT_DB)
    export.add_argument("--run", type=_positive_int, help="run id (default: the latest)")
    export.add_argument("--out", help="write to this file instead of standard output")

    importing = commands.add_parser(
        "import", help="merge a bundle from `dlarena export` into a store, without duplicates")
    importing.add_argument("bundle", metavar="BUNDLE", help="a bundle file, or - for stdin")
    importing.add_argument("--db", default=DEFAULT_DB)

    compare = commands.add_parser("compare", help="what changed between two stored runs")
    compare.add_argument("first", type=_positive_int, metavar="RUN_A")
    compare.add_argument("second", type=_positive_int, metavar="RUN_B")
    compare.add_argument("--db", default=DEFAULT_DB)
    compare.add_argument("--format", default="terminal", choices=("terminal", "json"))

    commands.add_parser("env", help="this machine's fingerprint, as stored with every run")
    return parser

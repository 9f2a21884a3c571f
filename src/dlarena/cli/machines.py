"""Results from many machines: `export`, `import`, and `report --machines`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dlarena.cli import output
from dlarena.errors import UsageError


def export(args: argparse.Namespace) -> int:
    from dlarena import __version__
    from dlarena.store import Store

    out = output.out_file(args.out, args.db)
    store = Store.read(args.db)
    try:
        runs = store.runs()
        if not runs:
            raise UsageError(f"{args.db} holds no runs yet: nothing to export")
        document = store.export_run(args.run or runs[-1].id,
                                    exported_by=f"dlarena {__version__}")
    finally:
        store.close()
    try:
        text = json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n"
    except ValueError:  # a record from before stores refused NaN: no reader could take it
        raise UsageError(f"run {document['run']['identity']} holds a number that is not "
                         "finite (NaN or infinity), which a bundle cannot carry") from None
    if out is None:
        sys.stdout.write(text)
        return 0
    output.write_file(text, out)
    print(f"run {document['run']['identity']} written to "
          f"{output.printable(str(out.resolve()))}",
          file=sys.stderr)
    return 0


def import_bundle(args: argparse.Namespace) -> int:
    from dlarena.cli.output import printable
    from dlarena.store import Store
    from dlarena.store.bundle import BundleError, parse, validate
    from dlarena.store.bundle_schema import MAX_BYTES

    name = "standard input" if args.bundle == "-" else args.bundle
    try:
        if args.bundle == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with Path(args.bundle).open("rb") as file:
                raw = file.read(MAX_BYTES + 1)  # /dev/zero is refused, not read to the end
    except OSError as error:
        raise UsageError(f"cannot read bundle {name}: {error}") from None
    new_store = not Path(args.db).exists()
    try:
        document = validate(parse(raw), known_names())
        store = Store.open(args.db)
        try:
            summary = store.import_run(document, trial=lambda run_id: _reportable(store, run_id))
        finally:
            store.close()
    except BundleError as error:
        if new_store:  # a refused bundle leaves no store behind, as it found none
            for suffix in ("", "-wal", "-shm", "-lock"):
                Path(args.db + suffix).unlink(missing_ok=True)
        raise UsageError(f"bundle {name}: {error}") from None
    machine = printable(document["run"]["environment"].get("hostname", "?"))
    what = "new run" if summary.created else "merged into imported run"
    print(f"{what} {summary.run_id} (from {machine}, identity {summary.identity}): "
          f"{summary.added} worker process(es) added, {summary.replaced} replaced a failure, "
          f"{summary.unchanged} already stored; {summary.parity_added} same-model check(s) "
          "added")
    return 0


def known_names() -> Any:
    """What a bundle may name: this dlarena's workloads, frameworks and their modes,
    scenarios and sizes."""
    from dlarena import registry
    from dlarena.scenarios import SCENARIOS
    from dlarena.store.bundle_schema import Names

    return Names(workloads=frozenset(registry.workloads()),
                 modes={name: frozenset(info.modes)
                        for name, info in registry.frameworks().items()},
                 scenarios=frozenset(SCENARIOS), sizes=frozenset(registry.SIZES))


def _reportable(store: Any, run_id: int) -> None:
    """Every report of the imported run, made before it is committed: a bundle whose run
    would crash `report` (or `report --machines`) is refused instead of stored."""
    from io import StringIO

    from rich.console import Console

    from dlarena.report import json as json_report
    from dlarena.report import machines, markdown, terminal
    from dlarena.report.build import build_report
    from dlarena.store.bundle import BundleError

    try:
        report = build_report(store, run_id)
        json_report.render(report, reference=None)
        markdown.render(report, reference=None)
        terminal.render(report, Console(file=StringIO(), width=160, color_system=None),
                        reference=None)
        for view in (machines.side_by_side(store, [run_id]), machines.side_by_side(store)):
            machines.to_json(view)
            machines.to_markdown(view)
            machines.render_terminal(view, Console(file=StringIO(), width=160,
                                                   color_system=None))
    # Whatever a report would trip on: the import is undone and says what it was.
    except Exception as error:
        raise BundleError(f"its run cannot be reported ({type(error).__name__}: {error}); "
                          "nothing imported") from None


def report(args: argparse.Namespace) -> int:
    from dlarena.report import machines
    from dlarena.store import Store

    if args.format not in ("terminal", "markdown", "json"):
        raise UsageError("--machines reports as terminal, markdown or json")
    out = output.out_file(args.out, args.db)
    store = Store.read(args.db)
    try:
        if not store.runs():
            raise UsageError(f"{args.db} holds no runs yet: run `dlarena run` first")
        view = machines.side_by_side(store, args.runs)
    except LookupError as error:
        raise UsageError(str(error)) from None
    finally:
        store.close()
    text: Any
    if args.format == "terminal" and out is None:
        machines.render_terminal(view, output.console())
        return 0
    if args.format == "json":
        text = machines.to_json(view)
    elif args.format == "markdown":
        text = machines.to_markdown(view)
    else:
        text = output.plain_text(lambda console: machines.render_terminal(view, console))
    return output.write_report(text, out)

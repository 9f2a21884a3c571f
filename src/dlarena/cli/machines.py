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
    text = json.dumps(document, indent=1, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
        return 0
    output.write_file(text, out)
    print(f"run {document['run']['identity']} written to "
          f"{output.printable(str(out.resolve()))}",
          file=sys.stderr)
    return 0


def import_bundle(args: argparse.Namespace) -> int:
    from dlarena.store import Store
    from dlarena.store.bundle import BundleError, validate

    name = "standard input" if args.bundle == "-" else args.bundle
    try:
        text = sys.stdin.read() if args.bundle == "-" else Path(args.bundle).read_text()
        document = validate(json.loads(text))
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read bundle {name}: {error}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"bundle {name} is not JSON: {error}") from None
    except BundleError as error:
        raise UsageError(f"bundle {name}: {error}") from None
    store = Store.open(args.db)
    try:
        summary = store.import_run(document)
    finally:
        store.close()
    machine = document["run"]["environment"].get("hostname", "?")
    what = "new run" if summary.created else "merged into run"
    print(f"{what} {summary.run_id} (from {machine}, identity {summary.identity}): "
          f"{summary.added} worker process(es) added, {summary.replaced} replaced a failure, "
          f"{summary.unchanged} already stored; {summary.parity_added} same-model check(s) "
          "added")
    return 0


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

"""Where a command's output goes, shared by every command module: the console, the file named
by --out, and text a terminal shows as it is. Commands share these through this module, never
through each other's private names."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlarena.errors import UsageError

# Wide enough for the reports' tables when the output is a file or a pipe, not a terminal.
FILE_WIDTH = 160


def printable(text: str) -> str:
    """`text` as one line that any terminal shows as it is: control characters and
    undecodable bytes of a file name written as escapes (the reports' sanitiser)."""
    from dlarena.report.sanitise import plain

    return plain(text)


def console() -> Any:
    """A console that keeps the table readable when the output is a file or a pipe."""
    from rich.console import Console

    terminal = Console(highlight=False)
    if not terminal.is_terminal:
        terminal = Console(highlight=False, width=max(terminal.width, FILE_WIDTH))
    return terminal


def plain_text(render: Callable[[Any], None]) -> str:
    """What `render(console)` prints, as plain text without colours, FILE_WIDTH wide."""
    from io import StringIO

    from rich.console import Console

    buffer = StringIO()
    render(Console(file=buffer, width=FILE_WIDTH, highlight=False, color_system=None))
    return buffer.getvalue()


def out_file(text: str | None, db: str) -> Path | None:
    """The file --out names: never an empty name, never the store itself (or its journal).
    None: print to standard output."""
    if text is None:
        return None
    if not text.strip():
        raise UsageError("--out needs a file name (leave it out to print the report)")
    out = Path(text)
    try:
        store = Path(db).resolve()
        if out.resolve() in {store, *(store.with_name(store.name + suffix)
                                       for suffix in ("-wal", "-shm", "-journal", "-lock"))}:
            raise UsageError(f"--out {out} is the results database itself; choose another file")
    except (OSError, ValueError, RuntimeError) as error:  # a name too long, a NUL, a loop
        raise UsageError(f"cannot use --out {out}: {error}") from None
    return out


def write_file(text: str, out: Path) -> None:
    """`text` into --out's file, its folders made; a file that cannot be written is the
    user's mistake to fix, said in one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot write --out {out}: {error}") from None


def write_report(text: str, out: Path | None) -> int:
    """A rendered report to standard output, or to --out saying where it went."""
    if out is None:
        sys.stdout.write(text)
        return 0
    write_file(text, out)
    print(f"report written to {printable(str(out.resolve()))}")
    return 0

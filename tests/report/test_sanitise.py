"""A stored string reaches a terminal, Markdown or HTML only through the sanitiser: a
hostname from another machine's bundle cannot retitle a window, clear a screen, reorder text,
break a Markdown table or become HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dlarena.cli.main import main
from dlarena.report import sanitise
from dlarena.store import Store
from dlarena.store.bundle import run_identity
from tests.store.test_store import ENV, outcome

HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J\u202eexe.txt[/][bold]<script>x</script>|a\\|b\nnext"
# What must never reach the output raw: ESC, BEL, the bidi override, a newline inside a line.
RAW = ("\x1b", "\x07", "\u202e")


def test_plain_writes_every_control_as_an_escape_and_keeps_the_rest() -> None:
    assert sanitise.plain("host-7 ünïcode ✓") == "host-7 ünïcode ✓"
    assert sanitise.plain("a\x1b[31mb\x07\u202ec\nd\x9b") == "a\\x1b[31mb\\x07\\u202ec\\nd\\x9b"
    assert sanitise.lines("one\x1b\ntwo") == "one\\x1b\ntwo"


def test_each_medium_escapes_its_own_markup() -> None:
    assert sanitise.terminal("[bold]x[/]") == "\\[bold]x\\[/]"
    assert sanitise.markdown("<b>a|b\\|c</b>") == "&lt;b&gt;a\\|b\\\\\\|c&lt;/b&gt;"
    assert sanitise.html("<a href=\"x\">\x1b") == "&lt;a href=&quot;x&quot;&gt;\\x1b"


def hostile_store(db: Path, hostname: str = HOSTILE) -> None:
    """Two runs of two machines, the second named by a hostile hostname and error."""
    store = Store.open(db)
    try:
        for env in (ENV, {**ENV, "hostname": hostname, "cpu_model": hostname}):
            run_id = store.create_run(plan_key=f"k{env['hostname']}", command="c",
                                      environment=env)
            store.save(run_id, outcome(), process=0)
            store.save(run_id, outcome("error", error=HOSTILE), process=1)
    finally:
        store.close()


def assert_inert(text: str, *, markup: bool = False) -> None:
    for character in RAW:
        assert character not in text
    if markup:  # Markdown and HTML: no tag of the string's own
        assert "<script>" not in text


@pytest.mark.parametrize("argv", [
    ["compare", "1", "2"], ["report", "--machines"], ["report", "--run", "2"],
    ["report", "--run", "2", "--format", "markdown"], ["report", "--run", "2", "--format", "html"],
    ["report", "--machines", "--format", "markdown"],
])
def test_no_report_shows_a_stored_string_raw(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    hostile_store(tmp_path / "r.db")
    capsys.readouterr()
    assert main([*argv, "--db", str(tmp_path / "r.db")]) in (0, 1)
    out = capsys.readouterr().out
    assert_inert(out, markup="markdown" in argv or "html" in argv)
    assert "evil" in out or "html" in argv  # the host is named (HTML: by its error)
    if "markdown" in argv:
        rows = [line for line in out.splitlines() if line.startswith("| ")]
        widths = {len(re.findall(r"(?<!\\)\|", row.replace("\\\\", ""))) for row in rows
                  if "evil" in row}
        header = len(re.findall(r"\|", rows[0]))
        assert widths <= {header}  # a hostile cell never adds a column


def test_import_names_a_hostile_host_inertly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile_store(tmp_path / "r.db")
    assert main(["export", "--run", "2", "--db", str(tmp_path / "r.db"),
                 "--out", str(tmp_path / "b")]) == 0
    bundle: dict[str, Any] = json.loads((tmp_path / "b").read_text())
    run = bundle["run"]
    run["identity"] = run_identity(run["plan_key"], run["created_utc"], run["environment"])
    capsys.readouterr()
    assert main(["import", str(tmp_path / "b"), "--db", str(tmp_path / "c.db")]) == 0
    out = capsys.readouterr().out
    assert_inert(out)
    assert "from evil\\x1b]0;pwned\\x07" in out and out.count("\n") == 1

"""Every format draws the one list of sections: same titles, same order, same captions."""

from __future__ import annotations

import dataclasses
import html as html_text
import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from dlarena.report import html, markdown, sections, terminal
from dlarena.report.build import build_report
from dlarena.report.model import Report
from dlarena.report.sections import SECTIONS, View
from dlarena.store import Store
from tests.report.test_exports import ENV, _cell_outcome, outcome


def _titles_markdown(report: Report) -> list[str]:
    return re.findall(r"^## (.+)$", markdown.render(report), flags=re.MULTILINE)


def _titles_html(report: Report) -> list[str]:
    return [html_text.unescape(title)
            for title in re.findall(r"<h2>(.+?)</h2>", html.render(report))]


def _titles_terminal(report: Report) -> list[str]:
    console = Console(file=io.StringIO(), record=True, width=300, color_system=None)
    terminal.render(report, console)
    # A section's title is a rule: the title, then a line to the right edge.
    return re.findall(r"^(\S.*?) ─{3,}$", console.export_text(), flags=re.MULTILINE)


FORMATS = {"markdown": _titles_markdown, "html": _titles_html, "terminal": _titles_terminal}


@pytest.fixture
def report(tmp_path: Path) -> Report:
    """A run with train and infer cells, a batch-size sweep, start-up cells and a failure."""
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="dlarena run", environment=ENV)
    for framework, mode, seconds in (("torch", "eager", 0.5), ("tensorflow", "function", 1.0)):
        store.save(run_id, outcome(framework, mode, seconds), process=0)
        store.save(run_id, outcome(framework, mode, seconds, "infer"), process=0)
        store.save(run_id, _cell_outcome(framework, mode, "train", 32, seconds=seconds),
                   process=0)
        store.save(run_id, _cell_outcome(framework, mode, "startup", 32,
                                         first_result=seconds * 10), process=0)
    built = build_report(store, run_id)
    store.close()
    return built


@pytest.mark.parametrize("module", [html, markdown, terminal])
def test_each_format_has_one_renderer_per_section(module: object) -> None:
    assert list(module.RENDERERS) == [section.id for section in SECTIONS]


def test_the_sections_ids_and_titles_are_unique() -> None:
    assert len({section.id for section in SECTIONS}) == len(SECTIONS)
    assert len({section.title for section in SECTIONS}) == len(SECTIONS)


@pytest.mark.parametrize("name", FORMATS)
def test_a_format_shows_the_sections_the_run_has_in_the_one_order(
        report: Report, name: str) -> None:
    expected = [section.title for section in sections.shown(View(report))]
    # What this run has, and what it lacks (not measured), both in every format.
    assert {"Verdicts", "Per workload", "Batch-size sweeps", "Start-up",
            "Not measured by this run", "Failed, unsupported and unstable cells"} <= set(expected)
    assert "Batch-1 latency" not in expected
    assert FORMATS[name](report) == expected


@pytest.mark.parametrize("name", FORMATS)
def test_every_section_renders_in_every_format_in_order(
        report: Report, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every section shown, whether or not the run has its figures: none may be left out
    # by a format, nor fail to draw an empty one.
    everything = tuple(dataclasses.replace(section, shown=lambda view: True)
                       for section in SECTIONS)
    monkeypatch.setattr(sections, "SECTIONS", everything)
    assert FORMATS[name](report) == [section.title for section in SECTIONS]


def test_a_caption_is_said_once_for_every_format(report: Report) -> None:
    caption = next(s for s in SECTIONS if s.id == "latency").caption(report)
    startup = next(s for s in SECTIONS if s.id == "startup").caption(report)
    page, text = html.render(report), markdown.render(report)
    console = Console(file=io.StringIO(), record=True, width=2000, color_system=None)
    terminal.render(report, console)
    for rendered in (html_text.unescape(page), text, console.export_text()):
        assert startup in rendered
        assert caption not in rendered  # no latency cells: no latency section

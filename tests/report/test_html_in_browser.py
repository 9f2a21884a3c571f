"""The HTML report as a person sees it: headless Chromium, console, figures, hostile text.

Needs Debian's chromium and chromium-driver (`make test` installs them). Without them the test is
skipped locally, but fails under CI=true so a missing browser cannot pass silently.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.executors.base import CellOutcome
from dlarena.executors.local import LocalExecutor
from dlarena.report import html
from dlarena.report.build import build_report
from dlarena.store import Store
from tests.conftest import RecordingObserver, fake_cell, require

SCREENSHOTS = Path(__file__).resolve().parents[2] / "results" / "screenshots"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage")


def _browser(profile: Path) -> Any:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver")
        pytest.skip("chromium / chromedriver not installed")
    webdriver = require("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))


@pytest.fixture
def report_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real fake-framework run with a failed cell (hostile error) and an unstable cell."""
    monkeypatch.setenv("DLARENA_FAKE_FAULT", "raise:cnn:infer")  # message holds <script>
    store = Store.open(tmp_path / "r.db")
    summary = run(Request(suite="smoke", frameworks=["fake"], min_window_seconds=0.01),
                  store=store, executor=LocalExecutor(), interpreters={},
                  observer=RecordingObserver())
    noisy = CellOutcome(
        cell=fake_cell(workload="mlp", scenario="train", seed=9), status="ok", error=None,
        payload={"throughput_metric": "train_throughput", "windows": [[100, 1.0], [100, 2.0],
                 [100, 0.5]], "warmup": [], "metrics": {"peak_rss_bytes": 2.0**27}},
        stderr_tail="", started_utc="t", wall_seconds=1.0, interpreter="python",
    )
    store.save(summary.run_id, noisy, process=0)
    steady = dataclasses.replace(noisy, cell=fake_cell(workload="mlp", scenario="train", seed=9,
                                                       mode="compiled"),
                                 payload={**noisy.payload, "windows": [[100, 1.0]] * 3})
    store.save(summary.run_id, steady, process=0)  # a verdict on the unstable cell
    path = tmp_path / "report.html"
    path.write_text(html.render(build_report(store, summary.run_id)))
    store.close()
    return path


def test_report_renders_in_chromium_without_errors(report_file: Path, tmp_path: Path) -> None:
    text = report_file.read_text()
    assert "<script" not in text.lower()  # no script of ours, and the hostile one escaped
    for fetch in ('src="http', "src='http", 'href="http', "<link", "@import", "url(http"):
        assert fetch not in text  # nothing to fetch: the file opens offline

    browser = _browser(tmp_path / "profile")
    try:
        browser.get(report_file.as_uri())
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(int(height) + 100, 16000))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "report.png"))

        problems = [entry for entry in browser.get_log("browser")
                    if entry["level"] in ("SEVERE", "WARNING")]
        assert problems == []
        figures = browser.execute_script("""
            return Array.from(document.querySelectorAll('figure.plot')).map(f => {
                const svg = f.querySelector('svg');
                if (!svg) return null;
                const box = svg.getBoundingClientRect();
                return {width: box.width, height: box.height,
                        marks: svg.querySelectorAll('path, rect, use').length};
            });""")
        assert len(figures) >= 4  # verdicts, mlp throughput, cnn throughput, memory
        for figure in figures:
            assert figure is not None
            assert figure["width"] > 200 and figure["height"] > 100 and figure["marks"] > 10
        assert browser.execute_script("return document.scripts.length") == 0
        first = browser.find_element("css selector", "main > section")
        assert first.get_attribute("id") == "verdicts"
        assert "a cell is flagged unstable" in first.text
        body = browser.find_element("tag name", "body").text
        assert "<script>alert(1)</script>" in body  # shown as text, not run
        assert "unstable: CV" in body
        for title in ("Verdicts", "The articles' claims, measured", "Per workload",
                      "Fairness manifest", "Environment", "Failed, unsupported and unstable cells"):
            assert title in body
    finally:
        browser.quit()

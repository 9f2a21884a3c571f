"""docs/store.md documents every CSV column and every top-level key of the JSON report."""

from __future__ import annotations

import json
from pathlib import Path

from dlarena.report import json as json_report
from dlarena.report.build import build_report
from dlarena.report.records import COLUMNS
from dlarena.store import Store
from tests.report.test_exports import ENV, outcome

STORE_DOC = Path(__file__).resolve().parents[2] / "docs" / "store.md"


def _section(title: str) -> str:
    text = STORE_DOC.read_text()
    start = text.index(f"\n## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def test_every_csv_column_is_documented() -> None:
    section = _section("CSV")
    assert [column for column in COLUMNS if f"`{column}`" not in section] == []


def test_every_json_key_is_documented(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    store.save(run_id, outcome("torch", "eager", 1.0), process=0)
    document = json.loads(json_report.render(build_report(store, run_id)))
    section = _section("JSON")
    assert f'"schema_version": {json_report.JSON_SCHEMA_VERSION}' in section
    assert [key for key in document if f'"{key}"' not in section] == []
    [cell] = document["cells"]
    assert [key for key in cell if f"`{key}`" not in section] == []
    assert [key for key in cell["metrics"]["train_throughput"] if key not in section] == []

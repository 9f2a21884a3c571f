"""Machines side by side: one row per (group, variant, machine), with a hardware column.

Absolute figures from two machines measure the hardware as much as the frameworks, so the
comparable figure is the ratio *within* a machine: each variant's median over the group's
reference variant measured on the same machine. The absolute medians are shown beside it,
labelled as such, never divided across machines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlarena import jsonsafe
from dlarena.report import formatting as fmt
from dlarena.report import sanitise
from dlarena.report.build import build_report
from dlarena.store import Store, StoredRun

ACROSS_MACHINES = ("absolute figures differ between machines by their hardware as much as by "
                   "their frameworks: compare the ratios, each taken within one machine")


def hardware(run: StoredRun) -> str:
    """The machine in words, as its run's fingerprint recorded it."""
    env = run.environment
    parts = [str(env.get("cpu_model", "unknown CPU"))]
    if env.get("cpu_microarchitecture"):
        parts[0] += f" [{env['cpu_microarchitecture']}]"
    parts.append(f"{env.get('cpus_available', '?')} CPUs")
    if gpus := fmt.gpus(env):
        parts.append(gpus)
    parts.append(f"host {env.get('hostname', '?')}")
    return ", ".join(parts)


@dataclass(frozen=True)
class Row:
    group: str  # workload · scenario · size · batch · device
    metric: str
    variant: str  # framework/mode
    run_id: int
    hardware: str
    median: float
    unit: str  # as the run's stored definitions name it (images/s for an image model)
    reference: str  # the variant the ratio is taken against, on the same machine
    ratio: float | None


@dataclass(frozen=True)
class MachinesView:
    runs: list[StoredRun]
    rows: list[Row]
    note: str = ACROSS_MACHINES


def latest_run_per_machine(store: Store) -> list[int]:
    latest: dict[tuple[str, ...], int] = {}
    for run in store.runs():
        latest[run.machine_key] = run.id
    return sorted(latest.values())


def side_by_side(store: Store, run_ids: list[int] | None = None) -> MachinesView:
    """The given runs (default: the latest run of each machine in the store), side by side."""
    ids = run_ids or latest_run_per_machine(store)
    runs = [store.run(run_id) for run_id in ids]
    reports = [build_report(store, run.id) for run in runs]
    # The reference of a group: the first variant (by name) measured on every machine that
    # measured the group, so every machine's ratios share one denominator's name.
    measured: dict[tuple[str, str], list[set[str]]] = {}
    for report in reports:
        for group in report.groups:
            metric = group.headline
            if metric is None:
                continue
            key = (_group_label(group.workload, group.scenario, group.size, group.batch_size,
                                group.device), metric)
            measured.setdefault(key, []).append(
                {c.label for c in group.cells if metric in c.summaries})
    references = {key: min(set.intersection(*sets) or set.union(*sets))
                  for key, sets in measured.items() if set.union(*sets)}
    rows = []
    for run, report in zip(runs, reports, strict=True):
        for group in report.groups:
            metric = group.headline
            if metric is None:
                continue
            key = (_group_label(group.workload, group.scenario, group.size, group.batch_size,
                                group.device), metric)
            medians = {c.label: c.summaries[metric].median
                       for c in group.cells if metric in c.summaries}
            reference = references.get(key)
            for label, median in sorted(medians.items()):
                base = medians.get(reference) if reference else None
                rows.append(Row(key[0], metric, label, run.id, hardware(run), median,
                                report.definitions.unit(metric, group.workload),
                                reference or "–", median / base if base else None))
    rows.sort(key=lambda r: (r.group, r.metric, r.variant, r.run_id))
    return MachinesView(runs, rows)


def _group_label(workload: str, scenario: str, size: str, batch: int, device: str) -> str:
    return f"{workload} · {scenario} · {size} · batch {batch} · {device}"


def to_json(view: MachinesView) -> str:
    return jsonsafe.dumps({
        "machines": [{"run": run.id, "hardware": hardware(run),
                      "cpu_microarchitecture": run.environment.get("cpu_microarchitecture"),
                      "created_utc": run.created_utc} for run in view.runs],
        "note": view.note,
        "rows": [{"group": r.group, "metric": r.metric, "variant": r.variant, "run": r.run_id,
                  "hardware": r.hardware, "median": r.median, "unit": r.unit,
                  "reference": r.reference,
                  "ratio_within_machine": r.ratio} for r in view.rows],
    }, indent=2) + "\n"


def to_markdown(view: MachinesView) -> str:
    lines = ["# Machines side by side", "", f"> {sanitise.markdown(view.note)}", "",
             "| group | metric | variant | hardware (run) | median | × reference, same machine |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in view.rows:
        cells = (r.group, r.metric, r.variant, f"{r.hardware} (run {r.run_id})", _median(r),
                 _ratio(r))
        lines.append("| " + " | ".join(sanitise.markdown(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def render_terminal(view: MachinesView, console: Any) -> None:
    from rich.table import Table

    table = Table(title="machines side by side", title_justify="left")
    for name in ("group", "variant", "hardware (run)", "median", "× reference, same machine"):
        table.add_column(name, overflow="fold")
    for r in view.rows:
        table.add_row(*(sanitise.terminal(text) for text in (
            r.group, r.variant, f"{r.hardware} (run {r.run_id})", _median(r), _ratio(r))))
    console.print(table)
    console.print(f"[yellow]{sanitise.terminal(view.note)}[/yellow]")


def _median(row: Row) -> str:
    from dlarena.report import formatting

    return f"{formatting.number(row.median)} {row.unit}".strip()


def _ratio(row: Row) -> str:
    return "–" if row.ratio is None else f"{row.ratio:.3f} × {row.reference}"

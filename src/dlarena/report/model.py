"""What every report format shows: cells with their summaries, groups, verdicts, parity."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

from dlarena.analysis import stats
from dlarena.analysis.stopping import StoppingRule
from dlarena.analysis.verdict import Verdict, compare, not_comparable
from dlarena.cell import DTYPES
from dlarena.parity.compare import ParityResult, PrecisionAudit
from dlarena.report.control import Control
from dlarena.report.facts import VERDICT_RULES, VERDICT_RULES_VERSION, Definitions
from dlarena.scenarios import SCENARIOS, data_parallel, swept_options
from dlarena.store import StoredCell, StoredRun


@dataclass(frozen=True)
class CellReport:
    stored: StoredCell
    # The steady-state metric of this cell's scenario (e.g. train_throughput), if measured.
    headline: str | None
    summaries: dict[str, stats.Summary]
    flags: tuple[str, ...]
    between_process_cv: float | None
    # The run's definitions (units, FLOPs, modes), as the report that holds this cell reads them.
    definitions: Definitions

    @property
    def label(self) -> str:
        spec = self.stored.spec
        swept = swept_options(spec)
        ranks = spec.options.get("ranks")  # train-ddp: processes training the one model
        return (f"{spec.framework}/{spec.mode}" + (f" ×{ranks}" if ranks else "")
                + (f" [{swept}]" if swept else ""))

    @property
    def variant(self) -> tuple[str, str]:
        """(framework, mode): what a same-model check is about."""
        return self.stored.spec.framework, self.stored.spec.mode

    @property
    def in_default_mode(self) -> bool:
        """Measured in its framework's idiomatic default mode (eager PyTorch, tf.function)."""
        spec = self.stored.spec
        return spec.mode == self.definitions.default_mode(spec.framework)

    @property
    def achieved_gflops(self) -> float | None:
        """FLOP rate at the median throughput of a train or infer cell (analytic FLOPs)."""
        summary = self.summaries.get(self.headline) if self.headline else None
        return self.definitions.achieved_gflops(self.stored.spec, self.headline,
                                                summary.median if summary else None)

    @property
    def seconds_per_process(self) -> float:
        """A worker process's typical wall time, start-up included: what a round costs."""
        walls = self.stored.wall_seconds
        return stats.median(walls) if walls else 0.0

    def percentile(self, metric: str, q: float) -> float:
        """The q-th percentile (0-100) of a measured metric's samples, pooled over processes."""
        return stats.percentile(self.stored.samples[metric], q)


@dataclass(frozen=True)
class Group:
    """Cells that measure the same thing in different frameworks (or modes)."""

    workload: str
    scenario: str
    size: str
    batch_size: int
    device: str
    cells: list[CellReport]
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def headline(self) -> str | None:
        return next((c.headline for c in self.cells if c.headline), None)

    def flagged(self, verdict: Verdict) -> list[str]:
        """Labels of the verdict's cells whose figures are flagged as unstable."""
        return [c.label for c in self.cells
                if c.flags and c.label in (verdict.first, verdict.second)]

    def ratio_to_first(self, cell: CellReport) -> float | None:
        """Median of `cell` over the first measured cell's, on the headline metric."""
        metric = self.headline
        measured = [c for c in self.cells if metric in c.summaries]
        if metric is None or not measured or metric not in cell.summaries:
            return None
        return cell.summaries[metric].median / measured[0].summaries[metric].median


def data_parallel_failure(cell: CellReport) -> str | None:
    """Why a train-ddp cell's ranks did not train the same model as one process (a process
    whose data-parallel same-model check failed), or None."""
    checks = cell.stored.samples.get("data_parallel_same_model", [])
    if all(value == 1.0 for value in checks):
        return None
    worst = max(cell.stored.samples.get("data_parallel_weight_difference", [math.nan]))
    return (f"{cell.label}'s ranks failed the data-parallel same-model check (weights "
            f"{worst:.1e} from the expected step, relative)")


def data_parallel_mismatch(first: CellReport, second: CellReport) -> str | None:
    """Why two train-ddp cells do not train the same model: one's ranks keep BatchNorm's
    statistics per rank, the other's of the global batch; or None."""
    kept = {}
    for cell in (first, second):
        stated = {details.get("manifest", {}).get(data_parallel.BATCHNORM_KEY)
                  for details in cell.stored.details} & {data_parallel.PER_RANK,
                                                         data_parallel.GLOBAL_BATCH}
        if len(stated) == 1:
            kept[cell.label] = stated.pop()
    if len(set(kept.values())) < 2:
        return None
    return "different data-parallel models: " + ", ".join(
        f"{label} keeps BatchNorm statistics {statistics}" for label, statistics in kept.items())


DEFINITIONS_FROM_CODE = ("definitions read from today's code: this run predates stored "
                         "definitions")


@dataclass(frozen=True)
class Report:
    run: StoredRun
    groups: list[Group]
    # Units, FLOPs and modes: those the run stored, else today's (`definitions_stored` False).
    definitions: Definitions
    parity: list[ParityResult] = field(default_factory=list)
    definitions_stored: bool = True
    # The machine's latest A/A control (a framework against its twin), if it has one.
    control: Control | None = None
    # Where the coordinator's time went (Store.run_phases): phase -> seconds.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def definitions_notes(self) -> list[str]:
        """What a reader must know about the definitions behind the figures; empty: nothing."""
        notes = [] if self.definitions_stored else [DEFINITIONS_FROM_CODE]
        stored = self.definitions.verdict_rules
        if self.definitions_stored and stored != VERDICT_RULES_VERSION:
            notes.append(
                f"verdicts by today's rules {VERDICT_RULES_VERSION} "
                f"({VERDICT_RULES[VERDICT_RULES_VERSION]}); the run was stored under rules "
                f"{stored} ({VERDICT_RULES.get(stored, 'unknown to this version')})")
        return notes

    def verdict(self, workload: str, metric: str, first: CellReport,
                second: CellReport) -> Verdict:
        """first vs second on `metric`; "not comparable" when the check of their two modes
        failed, or found a timed path computing at reduced precision."""
        parity = self.parity_of(workload, first.variant, second.variant)
        a, b = first.stored.by_round(metric), second.stored.by_round(metric)
        verdict = compare(metric, first.label, a, second.label, b, rule=self.stopping_rule,
                          seconds_per_round=first.seconds_per_process
                          + second.seconds_per_process)
        failed = (data_parallel_failure(first) or data_parallel_failure(second)
                  or data_parallel_mismatch(first, second))
        if failed:
            return not_comparable(metric, first.label, a, second.label, b, failed)
        if parity is None:
            return verdict
        if not parity.passed:
            return not_comparable(metric, first.label, a, second.label, b, parity.reason or "")
        audited = ", their float32 paths audited" if parity.audits else ""
        return replace(verdict, checked=f"{parity.first_label} vs {parity.second_label} in "
                                        f"{DTYPES[parity.precision]}{audited}")

    @property
    def interval_label(self) -> str:
        """What a verdict's interval holds: "95% over all looks (98.8% per look)" where the
        run stopped adaptively, else "95%"."""
        rule = self.stopping_rule
        if rule is None:
            return f"{stats.CONFIDENCE:.0%}"
        return f"{rule.overall:.0%} over all looks ({rule.confidence:.1%} per look)"

    @property
    def stopping_rule(self) -> StoppingRule | None:
        """The rule an adaptive run stopped by: its verdicts are read at that confidence."""
        stored = self.run.environment.get("stopping")
        return StoppingRule.from_json(stored) if stored else None

    def parity_of(self, workload: str, first: tuple[str, str],
                  second: tuple[str, str]) -> ParityResult | None:
        """The check of exactly these two (framework, mode) variants; a result stored before
        checks had modes was made in the frameworks' default modes."""
        default = self.definitions.default_mode
        for result in self.parity:
            sides = {(result.first, result.first_mode or default(result.first)),
                     (result.second, result.second_mode or default(result.second))}
            if result.workload == workload and sides == {first, second}:
                return result
        return None

    @property
    def unchecked_pairs(self) -> list[tuple[str, str, str]]:
        """(workload, framework/mode, framework/mode) compared by a verdict without a check."""
        pairs = []
        for group in self.groups:
            scenario = SCENARIOS.get(group.scenario)
            if scenario is not None and not scenario.compared:
                continue  # no verdict compares these cells
            variants = list(dict.fromkeys(c.variant for c in group.cells))
            for first, second in itertools.combinations(variants, 2):
                if self.parity_of(group.workload, first, second) is None:
                    pairs.append((group.workload, "/".join(first), "/".join(second)))
        return list(dict.fromkeys(pairs))

    def manifest(self) -> dict[str, dict[str, str]]:
        """framework/mode -> setting -> value(s), from every successful cell, and the float32
        precision audit of each checked framework/mode."""
        table: dict[str, dict[str, list[str]]] = {}
        for cell in self.cells:
            for details in cell.stored.details:
                for key, value in details.get("manifest", {}).items():
                    values = table.setdefault(cell.label, {}).setdefault(key, [])
                    if str(value) not in values:
                        values.append(str(value))
        measured = {cell.label for cell in self.cells}
        for label, (workload, audit) in self.worst_audits().items():
            if label in measured:
                worst = audit.worst
                table.setdefault(label, {})["precision_audit"] = [
                    f"worst {worst.ratio:.1f}x float32's expected rounding error ({workload}, "
                    f"{worst.what} at {worst.where}: {worst.error:.1e} from float64)"
                    + (" REDUCED PRECISION" if audit.reduced else "")]
        return {label: {k: " / ".join(v) for k, v in sorted(settings.items())}
                for label, settings in table.items()}

    def worst_audits(self) -> dict[str, tuple[str, PrecisionAudit]]:
        """framework/mode -> (workload, its precision audit) with the largest error ratio."""
        found: dict[str, tuple[str, PrecisionAudit]] = {}
        for result in self.parity:
            for audit in result.audits:
                known = found.get(audit.label)
                if known is None or audit.worst.ratio > known[1].worst.ratio:
                    found[audit.label] = (result.workload, audit)
        return found

    @property
    def cells(self) -> list[CellReport]:
        return [cell for group in self.groups for cell in group.cells]

    @property
    def failed(self) -> list[CellReport]:
        return [cell for cell in self.cells if cell.stored.failed]

    @property
    def unsupported(self) -> list[CellReport]:
        """Cells the framework cannot do here, each with its reason: not failures."""
        return [cell for cell in self.cells if cell.stored.unsupported]

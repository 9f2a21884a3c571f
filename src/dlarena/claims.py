"""The seed articles' quantitative claims, each judged by what one run measured.

A claim names who it favours, on which metric and scenario. Its status comes from the
verdicts between those frameworks on every workload the run measured:
holds / does not hold / no significant difference / mixed (workloads disagree) /
too few samples / not measured by this run. Adding a claim is one entry in CLAIMS.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlarena.measure.verdict import Verdict, compare, not_comparable
from dlarena.report.model import Report

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
NO_DIFFERENCE = "no significant difference"
MIXED = "mixed"
TOO_FEW = "too few samples"
NOT_MEASURED = "not measured by this run"


@dataclass(frozen=True)
class Claim:
    id: str
    source: str  # seed file and place
    quote: str  # the words of the article, in its language
    english: str
    # What would have to be measured; None for claims this release cannot measure yet.
    favours: str | None = None
    over: str | None = None
    metric: str | None = None
    scenario: str | None = None
    needs: str = ""  # what a run must include to measure it, when it cannot


@dataclass(frozen=True)
class Evidence:
    workload: str
    scenario: str
    verdict: Verdict
    anchor: str  # id of the report section that shows it


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    status: str
    summary: str
    evidence: tuple[Evidence, ...]


CLAIMS = (
    Claim(
        "pytorch-more-efficient", "seed 000, “Pytorch vs Tensorflow: performance”",
        "En general, PyTorch es más eficiente que TensorFlow",
        "In general, PyTorch is more efficient (processes more samples per second) than "
        "TensorFlow.",
        favours="torch", over="tensorflow", metric="train_throughput", scenario="train",
    ),
    Claim(
        "tensorflow-trains-slower", "seed 000, “tiempo de entrenamiento”",
        "los tiempos de entrenamiento de TensorFlow son significativamente mayores a los que "
        "require el mismo modelo desarrollado en PyTorch (11.19 s vs 7.67 s)",
        "TensorFlow takes significantly longer than PyTorch to train the same model "
        "(11.19 s vs 7.67 s). Measured here as steady-state training time per sample.",
        favours="torch", over="tensorflow", metric="train_throughput", scenario="train",
    ),
    Claim(
        "tensorflow-less-ram-training", "seed 000, “uso de memoria”",
        "Uso de memoria RAM durante el entrenamiento: Tensorflow require significativamente "
        "menos memoria que PyTorch (1.7 GB vs 3.5 GB)",
        "TensorFlow needs significantly less RAM than PyTorch while training (1.7 vs 3.5 GB). "
        "Measured here as the training worker's peak RSS.",
        favours="tensorflow", over="torch", metric="peak_rss_bytes", scenario="train",
    ),
    Claim(
        "tensorflow-production-performance", "seed 001, §1.5 “Rendimiento y Escalabilidad”",
        "TensorFlow: Optimizado para rendimiento en producción.",
        "TensorFlow is optimised for production performance. Measured here as inference "
        "throughput.",
        favours="tensorflow", over="torch", metric="infer_throughput", scenario="infer",
    ),
    Claim(
        "same-accuracy", "seed 000, “precisión”",
        "ambos frameworks tienen una media de precision del 78% en 20 épocas",
        "Both frameworks reach about 78% accuracy after 20 epochs.",
        needs="a convergence run on real data (the accuracy suite)",
    ),
    Claim(
        "ram-while-loading-data", "seed 000, “uso de memoria”",
        "ambos modelos tienen mayores demandas de RAM durante la etapa de carga de los datos "
        "(4.8 GB para TensorFlow vs. 5 GB para PyTorch)",
        "Both need more RAM while loading data (4.8 GB TensorFlow vs 5 GB PyTorch).",
        needs="memory by phase on a real dataset (the accuracy suite)",
    ),
    Claim(
        "static-graphs-faster", "seed 003, “TensorFlow vs PyTorch”",
        "Статические вычислительные графы … позволяют получить высокую производительность",
        "Static computation graphs need recompiling but run faster.",
        needs="eager and compiled modes of each framework (the graphs suite)",
    ),
    Claim(
        "paper-table", "seed 000, throughput table (Paszke et al., NeurIPS 2019, Table 1)",
        "TensorFlow 1422 / 66 / 200 / 216 / 9631 / 4.8e6; PyTorch 1547 / 119 / 212 / 463 / "
        "15512 / 5.4e6",
        "PyTorch trains AlexNet, VGG-19, ResNet-50, MobileNet, GNMTv2 and NCF faster than "
        "TensorFlow.",
        needs="the paper's six models (the paper suite)",
    ),
)


def _verdicts(report: Report, claim: Claim) -> list[Evidence]:
    """One verdict per workload where both frameworks were measured in the claim's scenario."""
    assert claim.metric and claim.favours and claim.over and claim.scenario
    evidence = []
    for group in report.groups:
        if group.scenario != claim.scenario:
            continue
        sides: dict[str, tuple[str, list[float]]] = {}
        for cell in group.cells:
            values = cell.stored.samples.get(claim.metric, [])
            if cell.stored.ok and values and cell.stored.spec.framework in (claim.favours,
                                                                           claim.over):
                sides.setdefault(cell.stored.spec.framework, (cell.label, values))
        if len(sides) < 2:
            continue
        (label_a, a), (label_b, b) = sides[claim.favours], sides[claim.over]
        parity = report.parity_of(group.workload, claim.favours, claim.over)
        if parity is not None and not parity.passed:
            verdict = not_comparable(claim.metric, label_a, a, label_b, b, parity.reason or "")
        else:
            verdict = compare(claim.metric, label_a, a, label_b, b)
        evidence.append(Evidence(group.workload, group.scenario, verdict,
                                 f"workload-{group.workload}"))
    return evidence


def _outcome(claim: Claim, verdict: Verdict) -> str:
    if not verdict.comparable:
        return NOT_MEASURED
    if verdict.interval is None:
        return TOO_FEW
    if not verdict.significant:
        return NO_DIFFERENCE
    favoured = verdict.better is not None and verdict.better.split("/")[0] == claim.favours
    return HOLDS if favoured else DOES_NOT_HOLD


def judge(claim: Claim, report: Report) -> ClaimResult:
    if claim.metric is None:
        return ClaimResult(claim, NOT_MEASURED, f"needs {claim.needs}", ())
    evidence = _verdicts(report, claim)
    if not evidence:
        return ClaimResult(claim, NOT_MEASURED,
                           f"this run has no {claim.scenario} cells of both {claim.favours} "
                           f"and {claim.over}", ())
    outcomes = {item.workload: _outcome(claim, item.verdict) for item in evidence}
    distinct = set(outcomes.values())
    if len(distinct) == 1:
        status = distinct.pop()
        summary = f"{status} on {', '.join(outcomes)}"
    else:
        status = MIXED
        summary = "; ".join(f"{outcome} on {workload}" for workload, outcome in outcomes.items())
    return ClaimResult(claim, status, summary, tuple(evidence))


def judge_all(report: Report) -> list[ClaimResult]:
    return [judge(claim, report) for claim in CLAIMS]

"""The seed articles' quantitative claims, each judged by what one run measured.

A claim names who it favours, on which metric and scenario. Its status comes from the
verdicts between those frameworks on every workload the run measured:
holds / does not hold / no significant difference / mixed (workloads disagree) /
too few samples / not measured by this run. Adding a claim is one entry in CLAIMS.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlarena.analysis.verdict import Verdict
from dlarena.report import devex
from dlarena.report.model import CellReport, Report
from dlarena.report.published import PASZKE_2019

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
    favours: str | None = None  # the framework the claim says is better (or the first of two)
    over: str | None = None
    # (metric, scenario) pairs that measure it, in order of preference; empty: not yet.
    measures: tuple[tuple[str, str], ...] = ()
    # "better": `favours` beats `over`; "same": no significant difference is claimed.
    expects: str = "better"
    needs: str = ""  # what a run must include to measure it
    # Only these workloads' verdicts count (None: every workload measured).
    workloads: tuple[str, ...] | None = None
    # Judged by a rule of report.devex.CRITERIA on the devex cells' counts, not by verdicts.
    criterion: str | None = None


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
        favours="torch", over="tensorflow", measures=(("train_throughput", "train"),),
    ),
    Claim(
        "tensorflow-trains-slower", "seed 000, “tiempo de entrenamiento”",
        "los tiempos de entrenamiento de TensorFlow son significativamente mayores a los que "
        "require el mismo modelo desarrollado en PyTorch (11.19 s vs 7.67 s)",
        "TensorFlow takes significantly longer than PyTorch to train the same model "
        "(11.19 s vs 7.67 s). Measured here as the training time of a convergence run, or "
        "else as steady-state training throughput.",
        favours="torch", over="tensorflow",
        measures=(("training_seconds", "convergence"), ("train_throughput", "train")),
    ),
    Claim(
        "tensorflow-less-ram-training", "seed 000, “uso de memoria”",
        "Uso de memoria RAM durante el entrenamiento: Tensorflow require significativamente "
        "menos memoria que PyTorch (1.7 GB vs 3.5 GB)",
        "TensorFlow needs significantly less RAM than PyTorch while training (1.7 vs 3.5 GB). "
        "Measured here as peak RSS while training (convergence), or else the training worker's "
        "peak RSS.",
        favours="tensorflow", over="torch",
        measures=(("peak_rss_train_bytes", "convergence"), ("peak_rss_bytes", "train")),
    ),
    Claim(
        "tensorflow-production-performance", "seed 001, §1.5 “Rendimiento y Escalabilidad”",
        "TensorFlow: Optimizado para rendimiento en producción.",
        "TensorFlow is optimised for production performance. Measured here as inference "
        "throughput.",
        favours="tensorflow", over="torch", measures=(("infer_throughput", "infer"),),
    ),
    Claim(
        "same-accuracy", "seed 000, “precisión”",
        "ambos frameworks tienen una media de precision del 78% en 20 épocas",
        "Both frameworks reach the same accuracy (about 78% after 20 epochs in the article).",
        favours="torch", over="tensorflow", expects="same",
        measures=(("final_val_accuracy", "convergence"),),
        needs="a convergence run on real data (the accuracy suite)",
    ),
    Claim(
        "ram-while-loading-data", "seed 000, “uso de memoria”",
        "ambos modelos tienen mayores demandas de RAM durante la etapa de carga de los datos "
        "(4.8 GB para TensorFlow vs. 5 GB para PyTorch)",
        "While loading data TensorFlow needs less RAM than PyTorch (4.8 GB vs 5 GB). Measured "
        "here as peak RSS while loading the dataset, with the framework and model resident.",
        favours="tensorflow", over="torch",
        measures=(("peak_rss_load_bytes", "convergence"),),
        needs="memory by phase on a real dataset (the accuracy suite)",
    ),
    Claim(
        "static-graphs-faster", "seed 003, “TensorFlow vs PyTorch”",
        "Статические вычислительные графы … позволяют получить высокую производительность",
        "Static computation graphs need recompiling but run faster. Measured here as "
        "TensorFlow's tf.function against its eager mode, training throughput.",
        favours="tensorflow/function", over="tensorflow/eager",
        measures=(("train_throughput", "train"),),
        needs="eager and compiled modes of each framework (the graphs suite)",
    ),
    Claim(
        "paper-table", "seed 000, throughput table (Paszke et al., NeurIPS 2019, Table 1)",
        "TensorFlow 1422 / 66 / 200 / 216 / 9631 / 4.8e6; PyTorch 1547 / 119 / 212 / 463 / "
        "15512 / 5.4e6",
        "PyTorch trains AlexNet, VGG-19, ResNet-50, MobileNet, GNMTv2 and NCF faster than "
        "TensorFlow.",
        favours="torch", over="tensorflow", measures=(("train_throughput", "train"),),
        needs="the paper's six models (the paper suite)",
        workloads=tuple(PASZKE_2019.columns),
    ),
    Claim(
        "pytorch-easy-to-debug", "seed 001, §1.2 “Filosofía de Diseño” (PyTorch)",
        "Intuitivo y fácil de depurar.",
        "PyTorch is intuitive and easy to debug. Measured here as error locality: 8 "
        "mistakes each planted in scratch copies of mlp and cnn (a layer too wide, one class "
        "short, integer pixels, one label fewer, labels from 1, no batch axis, swapped axes, "
        "NaN inputs), one training step in each framework's default mode; per mistake, one the "
        "framework makes impossible beats an error, an error beats silence, a traceback that "
        "points at or shows the mistake's line beats one that does not, then the shorter "
        "printed traceback wins.",
        favours="torch", over="tensorflow", criterion="error_locality",
        needs="planted mistakes (the devex suite)",
    ),
    Claim(
        "keras-concise", "seed 001, “Solución y Explicación”",
        "TensorFlow: Utiliza una API de alto nivel (Keras) para definir y compilar el modelo "
        "de manera concisa.",
        "TensorFlow, with Keras, defines a model concisely. Measured here as the code tokens "
        "of the implementation files of every workload both frameworks implement (shared base "
        "classes not counted); within 5% is no clear difference.",
        favours="tensorflow", over="torch", criterion="concise",
        needs="code sizes (the devex suite)",
    ),
    Claim(
        "pytorch-easier-to-learn", "seed 002, §3 “Curva de aprendizado”",
        "PyTorch é a biblioteca mais fácil de aprender. […] O TensorFlow é a biblioteca mais "
        "desafiadora.",
        "PyTorch is the easier library to learn; TensorFlow the more demanding. Measured here, "
        "as a proxy, as the distinct framework API names the implementations of the same "
        "models use: the vocabulary a learner needs.",
        favours="torch", over="tensorflow", criterion="vocabulary",
        needs="code sizes (the devex suite)",
    ),
    Claim(
        "pytorch-python-debuggers", "seed 004, “Difference – Debugging”",
        "Tensorflow: Need to use a special debugging tool, tfdbg […] Pytorch: You can use your "
        "favorite Python debugging tools such as pdb, ipdb, Pycharm debuggers.",
        "A Python debugger works on PyTorch models and not on TensorFlow's. Measured here as "
        "a sys.settrace probe (how pdb stops) in the model's forward pass over 3 training "
        "steps in each framework's default mode: does it stop at every step, and is the value "
        "there a concrete number or a symbolic tensor?",
        favours="torch", over="tensorflow", criterion="debugger_reach",
        needs="the debugger probe (the devex suite)",
    ),
)


def _side(cell: CellReport, side: str) -> bool:
    """`side` is a framework (its default mode) or a framework/mode label."""
    spec = cell.stored.spec
    if "/" in side:
        return cell.label == side
    return spec.framework == side and cell.in_default_mode


def _verdicts(report: Report, claim: Claim, metric: str, scenario: str) -> list[Evidence]:
    """One verdict per workload where both sides were measured in `scenario`."""
    assert claim.favours and claim.over
    evidence = []
    for group in report.groups:
        if group.scenario != scenario or (
                claim.workloads is not None and group.workload not in claim.workloads):
            continue
        sides: dict[str, CellReport] = {}
        for cell in group.cells:
            for side in (claim.favours, claim.over):
                if cell.stored.ok and cell.stored.samples.get(metric) and _side(cell, side):
                    sides.setdefault(side, cell)
        if len(sides) < 2:
            continue
        verdict = report.verdict(group.workload, metric, sides[claim.favours], sides[claim.over])
        evidence.append(Evidence(group.workload, group.scenario, verdict,
                                 f"workload-{group.workload}"))
    return evidence


def _outcome(claim: Claim, verdict: Verdict) -> str:
    if not verdict.comparable:
        return NOT_MEASURED
    if verdict.interval is None:
        return TOO_FEW
    if claim.expects == "same":
        return DOES_NOT_HOLD if verdict.significant else HOLDS
    if not verdict.significant:
        return NO_DIFFERENCE
    return HOLDS if verdict.better == verdict.first else DOES_NOT_HOLD


_DEVEX_STATUS = {"holds": HOLDS, "does not hold": DOES_NOT_HOLD,
                 "no clear difference": NO_DIFFERENCE, devex.NOT_MEASURED: NOT_MEASURED}


def judge(claim: Claim, report: Report) -> ClaimResult:
    if claim.criterion is not None:
        assert claim.favours and claim.over
        judgement = devex.CRITERIA[claim.criterion](report, claim.favours, claim.over)
        summary = judgement.summary
        if judgement.status == devex.NOT_MEASURED and claim.needs:
            summary = f"needs {claim.needs}"
        return ClaimResult(claim, _DEVEX_STATUS[judgement.status], summary, ())
    for metric, scenario in claim.measures:
        evidence = _verdicts(report, claim, metric, scenario)
        if evidence:
            break
    else:
        reason = f"needs {claim.needs}" if claim.needs else (
            f"this run has no comparable cells of {claim.favours} and {claim.over}")
        return ClaimResult(claim, NOT_MEASURED, reason, ())
    outcomes = {item.workload: _outcome(claim, item.verdict) for item in evidence}
    distinct = set(outcomes.values())
    if len(distinct) == 1:
        status = distinct.pop()
        summary = f"{status} on {', '.join(outcomes)} ({metric})"
    else:
        status = MIXED
        summary = "; ".join(f"{outcome} on {workload}" for workload, outcome in outcomes.items())
    return ClaimResult(claim, status, summary, tuple(evidence))


def judge_all(report: Report) -> list[ClaimResult]:
    return [judge(claim, report) for claim in CLAIMS]

from __future__ import annotations

import dataclasses

import pytest

from dlarena import registry
from dlarena.analysis.stopping import StoppingRule
from dlarena.cell import ThreadSettings
from dlarena.engine.plan import Request, build_plan, plan_key
from dlarena.engine.suites import DEFAULT_SET as DEFAULT_SET_RULE
from dlarena.engine.suites import DEFAULT_SET_AND_FRONT_ENDS, FRONT_ENDS, INSTALLED, SUITES
from dlarena.errors import UsageError

THREADS = ThreadSettings(2, 2)
DEFAULT_SET = [name for name, info in registry.frameworks().items() if info.in_default_set]


def test_default_suite_interleaves_frameworks_and_covers_every_paper_model() -> None:
    from dlarena.report.published import PASZKE_2019

    planned = build_plan(Request(), THREADS)
    order = [(p.cell.workload, p.cell.scenario, p.cell.framework) for p in planned]
    assert order[:2 * len(DEFAULT_SET)] == [
        ("mlp", scenario, framework) for scenario in ("train", "infer")
        for framework in DEFAULT_SET]
    assert {framework for _, _, framework in order} == set(DEFAULT_SET)
    trained = {workload for workload, scenario, _ in order if scenario == "train"}
    assert set(PASZKE_2019.columns) | {"transformer"} <= trained
    # infer only where the suite asks for it; measured in rounds until decided: up to the
    # rule's budget of processes, its windows each
    assert {w for w, s, _ in order if s == "infer"} == {"mlp", "cnn"}
    rule = StoppingRule()
    assert {p.process for p in planned} == set(range(rule.max_rounds))
    assert {p.cell.measure.windows for p in planned} == {rule.windows}
    assert {p.cell.size for p in planned} == {"cpu"}
    assert {p.cell.mode for p in planned if p.cell.framework == "tensorflow"} == {"function"}


def test_asked_scenarios_replace_the_suites_per_workload_choice() -> None:
    planned = build_plan(Request(scenarios=["infer"], windows=3), THREADS)
    assert {p.cell.scenario for p in planned} == {"infer"}
    assert {p.cell.measure.windows for p in planned} == {3}


def test_processes_repeat_the_whole_interleaved_order() -> None:
    planned = build_plan(Request(frameworks=["torch", "tensorflow"], workloads=["mlp"],
                                 scenarios=["train"], processes=3), THREADS)
    assert [(p.cell.framework, p.process) for p in planned] == [
        ("torch", 0), ("tensorflow", 0), ("torch", 1), ("tensorflow", 1),
        ("torch", 2), ("tensorflow", 2),
    ]


def test_overrides_reach_every_cell() -> None:
    planned = build_plan(Request(size="smoke", batch_sizes=[7], threads=ThreadSettings(1, 1),
                                 windows=4, min_window_seconds=0.5), THREADS)
    for p in planned:
        assert p.cell.batch_size == 7 and p.cell.threads == ThreadSettings(1, 1)
        assert p.cell.measure.windows == 4 and p.cell.measure.min_window_seconds == 0.5


@pytest.mark.parametrize(("request_", "message"), [
    (Request(frameworks=["pytorch"]),
     f"unknown framework 'pytorch'; valid: {', '.join(registry.names())}"),
    (Request(workloads=["resnet"]),
     f"unknown workload 'resnet'; valid: {', '.join(registry.workloads())}"),
    (Request(scenarios=["speed"]), "unknown scenario 'speed'; valid: train, infer"),
    (Request(suite="nightly"), "unknown suite 'nightly'; valid: default, smoke, graphs, front-ends, paper, accuracy"),
    (Request(size="huge"), "unknown size 'huge'; valid: smoke, cpu, full"),
    (Request(batch_sizes=[8, 0]), "batch size must be an integer from 1 to 2147483647, got 0"),
    (Request(frameworks=["torch", "tensorflow"], modes=["jit"]), "unknown mode 'jit' for torch, tensorflow; valid: default, eager, compiled, all, compile, compile-max-autotune, function, xla"),
    (Request(device="tpu"), "unknown device 'tpu'"),
])
def test_bad_names_list_the_valid_ones(request_: Request, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        build_plan(request_, THREADS)


def test_plan_key_depends_on_cells_and_context() -> None:
    planned = build_plan(Request(), THREADS)
    assert plan_key(planned, {"host": "a"}) == plan_key(list(reversed(planned)), {"host": "a"})
    assert plan_key(planned, {"host": "a"}) != plan_key(planned, {"host": "b"})
    assert plan_key(planned, {}) != plan_key(planned[:-1], {})


def test_modes_expand_per_framework_and_alternate() -> None:
    planned = build_plan(Request(frameworks=["torch", "tensorflow"], workloads=["mlp"],
                                 scenarios=["train"], modes=["all"], processes=1), THREADS)
    assert [(p.cell.framework, p.cell.mode) for p in planned] == [
        ("torch", "eager"), ("tensorflow", "function"),
        ("torch", "compile"), ("tensorflow", "eager"),
        ("torch", "compile-max-autotune"), ("tensorflow", "xla"),
    ]
    eager = build_plan(Request(workloads=["mlp"], scenarios=["train"], modes=["eager"],
                               processes=1), THREADS)
    assert {p.cell.mode for p in eager} == {"eager"}
    compiled = build_plan(Request(frameworks=["torch", "tensorflow"], workloads=["mlp"],
                                  scenarios=["train"], modes=["compiled"], processes=1), THREADS)
    assert [p.cell.mode for p in compiled] == ["compile", "function",
                                               "compile-max-autotune", "xla"]


def test_batch_size_sweep_and_latency_default_to_one_request() -> None:
    sweep = build_plan(Request(workloads=["mlp"], scenarios=["infer"], batch_sizes=[1, 8, 32],
                               processes=1), THREADS)
    assert [p.cell.batch_size for p in sweep] == [
        size for size in (1, 8, 32) for _ in DEFAULT_SET]
    latency = build_plan(Request(workloads=["cnn"], scenarios=["latency"], processes=1),
                         THREADS)
    assert {p.cell.batch_size for p in latency} == {1}


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch) -> str:
    """A framework that exists only in the registry: a copy of the fake, not a test double."""
    fake = registry.frameworks()["fake"]
    planted = dict(registry.frameworks())
    planted["twin"] = dataclasses.replace(fake, name="twin", test_double=False)
    monkeypatch.setattr(registry, "frameworks", lambda: planted)
    # ... with the fake's input pipeline, for the data scenarios.
    for name in ("pipeline_path", "pipeline_formats"):
        original = getattr(registry, name)
        monkeypatch.setattr(registry, name, lambda framework, original=original: original(
            "fake" if framework == "twin" else framework))
    return "twin"


def test_suites_choose_frameworks_by_rule(twin: str) -> None:
    """A framework joins the suites that take every installed one, and the default set only
    when its INFO says so; a test double joins none unless named."""
    by_suite = {name: {p.cell.framework for p in build_plan(
        Request(suite=name, size="smoke"), THREADS, installed=[twin, *DEFAULT_SET])}
        for name in SUITES}
    for name, suite in SUITES.items():
        assert "fake" not in by_suite[name]
        assert (twin in by_suite[name]) == (suite.frameworks == INSTALLED), name
    assert twin not in {p.cell.framework for p in build_plan(
        Request(suite="graphs", size="smoke"), THREADS, installed=DEFAULT_SET)}


def test_a_framework_in_the_default_set_joins_every_suite(
        twin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = dict(registry.frameworks())
    planted[twin] = dataclasses.replace(planted[twin], in_default_set=True)
    monkeypatch.setattr(registry, "frameworks", lambda: planted)
    for name, suite in SUITES.items():
        planned = build_plan(Request(suite=name, size="smoke"), THREADS,
                             installed=[twin, *DEFAULT_SET])
        joins = suite.frameworks in (DEFAULT_SET_RULE, INSTALLED, DEFAULT_SET_AND_FRONT_ENDS)
        assert (twin in {p.cell.framework for p in planned}) == joins, name


def test_the_front_ends_suite_takes_keras_on_each_backend_and_the_frameworks_beneath(
        twin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras on JAX and on PyTorch run tensorflow's implementations and run on jax and torch:
    all four (and jax when it exists) are measured, nothing else, and only when installed."""
    keras_suites = [name for name, suite in SUITES.items() if suite.frameworks == FRONT_ENDS]
    assert keras_suites == ["front-ends"]
    everything = [*registry.frameworks(), twin]
    chosen = {p.cell.framework for p in build_plan(
        Request(suite="front-ends", size="smoke"), THREADS, installed=everything)}
    beneath = {"jax"} & set(registry.frameworks())
    assert chosen == {"tensorflow", "keras-jax", "keras-torch", "torch", *beneath}
    without_torch = {p.cell.framework for p in build_plan(
        Request(suite="front-ends", size="smoke"), THREADS,
        installed=[name for name in everything if name != "torch"])}
    assert without_torch == chosen - {"torch"}
    # A framework running on twin brings twin in.
    planted = dict(registry.frameworks())
    planted["keras-jax"] = dataclasses.replace(planted["keras-jax"], runs_on=twin)
    monkeypatch.setattr(registry, "frameworks", lambda: planted)
    assert twin in {p.cell.framework for p in build_plan(
        Request(suite="front-ends", size="smoke"), THREADS, installed=everything)}


def test_a_suite_with_nothing_installed_says_so() -> None:
    with pytest.raises(UsageError, match="none is installed"):
        build_plan(Request(suite="graphs"), THREADS, installed=[])


def test_a_suite_can_measure_one_workload_in_more_modes() -> None:
    planned = build_plan(Request(suite="devex", frameworks=["fake"], workloads=["mlp", "cnn"]),
                         THREADS, installed=["fake"])
    modes = {(p.cell.workload, p.cell.mode) for p in planned}
    assert modes == {("mlp", "eager"), ("mlp", "compiled"), ("cnn", "eager")}
    asked = build_plan(Request(suite="devex", frameworks=["fake"], workloads=["mlp", "cnn"],
                               modes=["eager"]), THREADS, installed=["fake"])
    assert {p.cell.mode for p in asked} == {"eager"}

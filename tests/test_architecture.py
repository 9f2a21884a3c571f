"""The architecture as rules that fail the build: who may import whom, that no modules import
each other in a circle or use each other's private names, and where a framework may be named.
Each rule is checked on the source's AST, and each is shown to catch a planted violation in a
copy of the source."""

from __future__ import annotations

import ast
import functools
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import dlarena
from dlarena import registry

SOURCE = Path(dlarena.__file__).parent

# Each top-level part of the package -> the parts it may import (itself always allowed; the
# package root `dlarena`, which exports only cell and errors, too). Lowest layer first.
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "errors": set(),
    "jsonsafe": set(),  # the standard library only
    "cell": set(),
    # lifeline (runs first in every worker) and netns (the worker's private network
    # namespace): the standard library only.
    "isolation": set(),
    "data": set(),  # NumPy and the standard library: the worker side reads data
    "contract": {"cell", "data"},  # the bottom of frameworks and workloads
    "frameworks": {"cell", "contract", "data"},  # never a workload; data: input pipelines
    "workloads": {"contract", "data", "frameworks"},
    "registry": {"contract", "frameworks", "workloads"},
    # server, load generator, portable runtimes, TorchServe: neutral
    "deploy": {"cell", "contract", "isolation"},
    # What a cell can measure, read by the coordinator and the worker alike.
    "scenarios": {"cell", "contract", "errors", "isolation", "registry"},
    "executors": {"cell", "contract", "isolation", "registry"},
    # The coordinator's arithmetic on stored samples: statistics, stopping, verdicts.
    "analysis": set(),
    "parity": {"cell", "contract", "executors", "registry"},
    "store": {"cell", "errors", "executors", "jsonsafe", "parity"},
    "report": {"analysis", "cell", "contract", "errors", "jsonsafe", "parity", "registry",
               "scenarios", "store"},
    # What runs in a worker process: never the coordinator's parts.
    "worker": {"cell", "contract", "data", "deploy", "executors", "isolation", "parity",
               "registry", "scenarios"},
    # The coordinator's run: suites, plan, runner, environment.
    "engine": {"analysis", "cell", "contract", "errors", "executors", "parity", "registry",
               "report", "scenarios", "store"},
    "api": {"errors", "report", "store"},
    "cli": {"analysis", "cell", "engine", "errors", "executors", "jsonsafe", "parity",
            "registry", "report", "scenarios", "store"},
}
# Where a framework may be named: its own folder, implementations, and published data
# (the seeds' claims and the papers' tables name the frameworks they are about).
MAY_NAME_FRAMEWORKS = ("frameworks/", "workloads/", "report/published.py", "report/claims.py")
FRAMEWORK_LIBRARIES = {"torch", "tensorflow", "keras", "jax", "flax", "mxnet", "paddle", "chainer",
                       "cntk", "caffe"}


def _modules(root: Path) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        yield path.relative_to(root).as_posix(), _parsed(path.read_text())


@functools.cache
def _parsed(text: str) -> ast.Module:
    """Each source text parsed once: every planted test reads the whole copy again, and all
    but its planted file are unchanged. Callers only read the tree."""
    return ast.parse(text)


def _part(relative: str) -> str:
    return relative.split("/")[0].removesuffix(".py")


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module == "dlarena":  # from dlarena import registry
            return [f"dlarena.{alias.name}" for alias in node.names]
        return [node.module]
    return []


def layering_violations(root: Path) -> list[str]:
    """Every import of a dlarena part that the importer's row does not allow (lazy ones too)."""
    found = []
    for relative, tree in _modules(root):
        part = _part(relative)
        if part == "__init__":
            continue
        if part not in ALLOWED_IMPORTS:
            found.append(f"{relative}: {part!r} has no row in ALLOWED_IMPORTS")
            continue
        for node in ast.walk(tree):
            for name in _imported(node):
                pieces = name.split(".")
                if pieces[0] != "dlarena" or len(pieces) < 2 or pieces[1] == "__version__":
                    continue
                target = pieces[1]
                if target != part and target not in ALLOWED_IMPORTS[part]:
                    found.append(f"{relative}:{node.lineno} imports dlarena.{target}")
    return found


def _module_name(relative: str) -> str:
    """"analysis/stats.py" -> "measure.stats"; a package's __init__.py is the package."""
    return relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the dlarena modules it imports anywhere (inside functions too), by name
    relative to the package ("cli.commands"). `from a.b import c` imports the module a.b.c
    where there is one, else a.b. Importing a module is not counted as importing the packages
    above it, which Python runs first: a package whose __init__ re-exports its modules would
    otherwise be in a circle with each of them."""
    trees = {_module_name(relative): tree for relative, tree in _modules(root)}
    graph: dict[str, set[str]] = {name: set() for name in trees}
    for name, tree in trees.items():
        for node in ast.walk(tree):
            for target in _imported_modules(node):
                while target and target not in trees:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _imported_modules(node: ast.AST) -> list[str]:
    """What an import statement names below dlarena, as dotted paths without "dlarena."."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [f"{node.module}.{alias.name}" for alias in node.names]
    else:
        return []
    return [name.removeprefix("dlarena.") for name in names if name.startswith("dlarena.")]


def import_circles(root: Path) -> list[list[str]]:
    """Every set of modules that import one another, directly or round a longer loop (the
    strongly connected components of the import graph with more than one module), sorted."""
    graph = import_graph(root)
    order: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        order[module] = lowest[module] = len(order)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in order:
                visit(target)
                lowest[module] = min(lowest[module], lowest[target])
            elif target in stack:
                lowest[module] = min(lowest[module], order[target])
        if lowest[module] == order[module]:
            component = stack[stack.index(module):]
            del stack[stack.index(module):]
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return sorted(circles)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_name_imports(root: Path) -> list[str]:
    """Every use of another module's private name: `from dlarena.a import _b` (unless _b is
    a module, as `frameworks/_keras/` is a package), or `a._b` where `a` names a dlarena
    module imported here. What modules share belongs in a public name of a shared module."""
    modules = {_module_name(relative) for relative, _ in _modules(root)}
    found = []
    for relative, tree in _modules(root):
        imported_modules: set[str] = set()  # local names bound to dlarena modules
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                    and node.module.split(".")[0] == "dlarena"):
                for alias in node.names:
                    if f"{node.module}.{alias.name}".removeprefix("dlarena.") in modules:
                        imported_modules.add(alias.asname or alias.name)
                    elif _private(alias.name):
                        found.append(f"{relative}:{node.lineno} imports {alias.name} from "
                                     f"{node.module}")
            elif isinstance(node, ast.Import):
                imported_modules.update(alias.asname for alias in node.names
                                        if alias.asname and alias.name.startswith("dlarena."))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr)
                    and isinstance(node.value, ast.Name) and node.value.id in imported_modules):
                found.append(f"{relative}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def framework_name_violations(root: Path, names: set[str]) -> list[str]:
    """Framework names in code (strings, not docstrings) or framework imports outside the
    places that may name them."""
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b")
    found = []
    for relative, tree in _modules(root):
        if relative.startswith(MAY_NAME_FRAMEWORKS):
            continue
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings and (match := pattern.search(node.value))):
                found.append(f"{relative}:{node.lineno} names {match.group(1)!r}")
            for name in _imported(node):
                if name.split(".")[0] in FRAMEWORK_LIBRARIES:
                    found.append(f"{relative}:{node.lineno} imports {name}")
    return found


def _framework_names() -> set[str]:
    return set(registry.frameworks()) | FRAMEWORK_LIBRARIES


def test_every_import_follows_the_layers() -> None:
    assert layering_violations(SOURCE) == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert import_circles(SOURCE) == []


def test_no_module_uses_another_modules_private_names() -> None:
    assert private_name_imports(SOURCE) == []


def test_no_framework_is_named_outside_its_folder_its_implementations_and_published_data(
) -> None:
    assert framework_name_violations(SOURCE, _framework_names()) == []


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("src") / "dlarena"
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _plant(path: Path, line: str) -> str:
    original = path.read_text()
    path.write_text(original + "\n" + line + "\n")
    return original


@pytest.mark.parametrize(("file", "line", "expected"), [
    ("frameworks/torch/model.py", "from dlarena.workloads.mlp import spec",
     "frameworks/torch/model.py:"),
    ("contract/workload.py", "from dlarena import registry", "contract/workload.py:"),
    ("analysis/stats.py", "def late():\n    from dlarena.report import model",
     "analysis/stats.py:"),
])
def test_the_layering_rule_catches_a_planted_import(
        copy: Path, file: str, line: str, expected: str) -> None:
    original = _plant(copy / file, line)
    try:
        violations = layering_violations(copy)
    finally:
        (copy / file).write_text(original)
    assert len(violations) == 1 and violations[0].startswith(expected), violations


@pytest.mark.parametrize(("file", "line", "circle"), [
    ("errors.py", "import dlarena.store.files", ["errors", "store.files"]),
    # Inside a function, closing a loop of three: json -> curves -> tensorboard -> json.
    ("report/tensorboard.py", "def late():\n    from dlarena.report import json",
     ["report.curves", "report.json", "report.tensorboard"]),
    ("cell.py", "from dlarena import errors", None),  # one way only: no circle
])
def test_the_circle_check_catches_a_planted_circle(
        copy: Path, file: str, line: str, circle: list[str] | None) -> None:
    before = import_circles(copy)
    original = _plant(copy / file, line)
    try:
        circles = import_circles(copy)
    finally:
        (copy / file).write_text(original)
    assert [c for c in circles if c not in before] == ([circle] if circle else []), circles


@pytest.mark.parametrize(("file", "line"), [
    ("cli/machines.py", "def late():\n    from dlarena.cli.commands import _reference"),
    ("cli/machines.py", "from dlarena.cli import commands\nREFERENCE = commands._reference"),
    ("report/html.py", "import dlarena.report.plots as drawing\nBARS = drawing._bars"),
])
def test_the_private_name_rule_catches_a_planted_use(copy: Path, file: str, line: str) -> None:
    original = _plant(copy / file, line)
    try:
        violations = private_name_imports(copy)
    finally:
        (copy / file).write_text(original)
    assert len(violations) == 1 and violations[0].startswith(f"{file}:"), violations


@pytest.mark.parametrize(("file", "line"), [
    ("report/table.py", 'BASELINE = "torch"'),
    ("engine/suites.py", 'FRAMEWORKS = ("tensorflow", "jax")'),
    ("cli/commands.py", "import keras"),
    ("engine/plan.py", 'MODE = f"{1}/tensorflow"'),
])
def test_the_name_scan_catches_a_planted_framework_name(
        copy: Path, file: str, line: str) -> None:
    original = _plant(copy / file, line)
    try:
        violations = framework_name_violations(copy, _framework_names())
    finally:
        (copy / file).write_text(original)
    assert violations and all(v.startswith(file) for v in violations), violations


def test_a_docstring_may_mention_a_framework(copy: Path) -> None:
    original = _plant(copy / "engine/plan.py", 'def f():\n    """As torch does."""')
    try:
        assert framework_name_violations(copy, _framework_names()) == []
    finally:
        (copy / "engine/plan.py").write_text(original)


# The coordinator's parts: they plan, run, store and report, and never import what runs in a
# worker process (`worker/`); both sides read the scenario table (`scenarios/`), which names
# each scenario's worker function by path only.
COORDINATOR = ("analysis", "api", "cli", "engine", "report", "store")
WORKER = "worker"


def _reachable(parts: tuple[str, ...]) -> set[str]:
    """Every part the given parts may import, directly or through another part."""
    seen: set[str] = set()
    todo = list(parts)
    while todo:
        part = todo.pop()
        for target in ALLOWED_IMPORTS[part] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_coordinator_side_may_not_reach_the_worker_side() -> None:
    assert WORKER not in _reachable(COORDINATOR)
    assert not set(COORDINATOR) & _reachable((WORKER,))


@pytest.mark.parametrize(("file", "line"), [
    ("analysis/stats.py", "def late():\n    from dlarena.worker import timing"),
    ("report/model.py", "from dlarena.worker.runners import run_latency"),
    ("engine/plan.py", "import dlarena.worker.data_parallel"),
    ("worker/timing.py", "from dlarena.analysis import stats"),
])
def test_an_import_across_the_worker_line_fails(copy: Path, file: str, line: str) -> None:
    original = _plant(copy / file, line)
    try:
        violations = layering_violations(copy)
    finally:
        (copy / file).write_text(original)
    assert len(violations) == 1 and violations[0].startswith(f"{file}:"), violations


def scenario_names_in(path: Path) -> list[str]:
    """Scenario names written as strings in a module: a scenario owns how it expands into
    cells, so the plan names none."""
    from dlarena.scenarios import SCENARIOS

    return [node.value for node in ast.walk(_parsed(path.read_text()))
            if isinstance(node, ast.Constant) and node.value in SCENARIOS]


def test_the_plan_names_no_scenario() -> None:
    assert scenario_names_in(SOURCE / "engine" / "plan.py") == []


def test_the_scenario_name_check_catches_a_planted_branch(copy: Path) -> None:
    original = _plant(copy / "engine" / "plan.py", 'def ddp(name):\n    return name == "train-ddp"')
    try:
        assert scenario_names_in(copy / "engine" / "plan.py") == ["train-ddp"]
    finally:
        (copy / "engine" / "plan.py").write_text(original)

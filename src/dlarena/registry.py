"""What exists: frameworks, workloads, their implementations, scenarios, sizes.

Found by layout, so adding a framework or a workload touches no list:
- `dlarena/frameworks/<name>/__init__.py` defines `INFO` (a FrameworkInfo), and its
  `runtime.py` defines `RUNTIME`;
- `dlarena/workloads/<name>/spec.py` defines `WORKLOAD`;
- `dlarena/workloads/<workload>/<framework>.py` defines `Implementation`;
- `dlarena/frameworks/<name>/pipeline.py`, when there, defines `PIPELINE` (an input
  pipeline over image files) and `FORMATS` (the file formats it reads);
- `dlarena/frameworks/<name>/deploy.py`, when there, defines `DEPLOYMENT` (save, export and
  serve paths).
A framework's name may hold hyphens (`keras-jax`); its folder and files use underscores
(`frameworks/keras_jax/`). Frameworks may share implementations written in one library
(`FrameworkInfo.implementation_files`): `tensorflow`, `keras-jax` and `keras-torch` run
`workloads/<w>/keras.py`, built on `frameworks/_keras/`, a folder that is no framework (its
name starts with "_").
Importing these modules never imports a framework: that happens inside the worker only.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
from collections.abc import Mapping
from contextlib import AbstractContextManager
from functools import cache
from typing import cast

from dlarena import frameworks as _frameworks_package
from dlarena import workloads as _workloads_package
from dlarena.contract import Deployment, FrameworkInfo, Implementation, Runtime, Workload
from dlarena.contract.pipeline import InputPipeline
from dlarena.workloads._user import spec as user_model
from dlarena.workloads._user.spec import ModelError

__all__ = ["ModelError"]  # a model SPEC that cannot be used (`use_model`)

SIZES = ("smoke", "cpu", "full")
# The implementation of the user's model in a framework's implementation module.
USER_IMPLEMENTATION = "dlarena.workloads._user.{}:Implementation"

TWIN_SUFFIX = "-twin"


def twin(info: FrameworkInfo) -> FrameworkInfo:
    """An identical twin of a framework (`FrameworkInfo.twin_of`): a test double no rule
    chooses, named `<name>-twin`."""
    return dataclasses.replace(
        info, name=f"{info.name}{TWIN_SUFFIX}", twin_of=info.name, test_double=True,
        in_default_set=False, description=f"{info.description} (its identical twin, for the "
                                          "A/A control: dlarena calibrate)")


def names() -> list[str]:
    """The frameworks a user names: every one but the twins."""
    return [name for name, info in frameworks().items() if info.twin_of is None]


@cache
def frameworks() -> dict[str, FrameworkInfo]:
    """Every framework folder's INFO, and an identical twin of each."""
    found: dict[str, FrameworkInfo] = {}
    for module in pkgutil.iter_modules(_frameworks_package.__path__):
        if not module.ispkg or module.name.startswith("_"):  # _keras: shared, no framework
            continue
        info = importlib.import_module(f"dlarena.frameworks.{module.name}").INFO
        if info.module != module.name:
            raise RuntimeError(f"frameworks/{module.name}/ names itself {info.name!r}")
        found[info.name] = info
    twins = [twin(info) for info in found.values()]
    return dict(sorted({**found, **{info.name: info for info in twins}}.items()))


def workloads() -> dict[str, Workload]:
    """The catalogue's workloads, and the user's model while a run names one (`use_model`)."""
    model = user_model.active()
    return _catalogue() if model is None else {**_catalogue(), model.name: model}


@cache
def _catalogue() -> dict[str, Workload]:
    found: dict[str, Workload] = {}
    for module in pkgutil.iter_modules(_workloads_package.__path__):
        if not module.ispkg or module.name.startswith("_"):  # _user: the user's model
            continue
        workload = importlib.import_module(f"dlarena.workloads.{module.name}.spec").WORKLOAD
        if workload.name != module.name:
            raise RuntimeError(f"workloads/{module.name}/spec.py names itself {workload.name!r}")
        found[workload.name] = workload
    return dict(sorted(found.items()))


def implementation_path(workload: str, framework: str) -> str | None:
    """"module:Class" of the implementation, or None when the framework lacks one."""
    info = frameworks()[framework]
    model = user_model.active()
    if model is not None and workload == model.name:  # a test double cannot run it
        return (USER_IMPLEMENTATION.format(info.implementation_module)
                if info.implementation_module == model.family and not info.test_double
                else None)
    if info.generic_implementation is not None:
        return info.generic_implementation
    module = f"dlarena.workloads.{workload}.{info.implementation_module}"
    if importlib.util.find_spec(module) is None:
        return None
    return f"{module}:Implementation"


def implementing_frameworks(workload: str) -> list[str]:
    return [name for name in frameworks() if implementation_path(workload, name) is not None]


def _framework_module(framework: str, name: str) -> str | None:
    """The framework folder's module `name` ("pipeline"), or None when there is none."""
    info = frameworks().get(framework)
    module = f"dlarena.frameworks.{info.module if info else framework}.{name}"
    try:
        found = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a framework known from its INFO alone (tests make some)
        return None
    return None if found is None else module


def pipeline_path(framework: str) -> str | None:
    """"module:Class" of the framework's input pipeline, or None when it has none."""
    module = _framework_module(framework, "pipeline")
    return None if module is None else f"{module}:PIPELINE"


def pipeline_formats(framework: str) -> tuple[str, ...]:
    """File formats the framework's pipeline reads (none without a pipeline). Its module
    imports the framework only inside methods, so reading this imports no framework."""
    if pipeline_path(framework) is None:
        return ()
    formats: tuple[str, ...] = importlib.import_module(
        f"dlarena.frameworks.{frameworks()[framework].module}.pipeline").FORMATS
    return formats


def runtime_path(framework: str) -> str:
    return f"dlarena.frameworks.{frameworks()[framework].module}.runtime:RUNTIME"


def source_patterns(workload: str, framework: str) -> tuple[str, ...]:
    """Glob patterns, relative to the package, of the files that define `framework`'s model
    of `workload`: its implementation file, its folder, and the shared folder its
    implementations build on."""
    info = frameworks()[framework]
    folders = (info.module,) if info.shared_folder is None else (info.module, info.shared_folder)
    model = user_model.active()
    if model is not None and workload == model.name:
        return ("workloads/_user/*.py", *(f"frameworks/{folder}/*.py" for folder in folders))
    return (f"workloads/{workload}/{info.implementation_module}.py",
            *(f"frameworks/{folder}/*.py" for folder in folders))


def deployment_path(framework: str) -> str | None:
    """"module:attribute" of the framework's Deployment (`frameworks/<name>/deploy.py`), or
    None when the framework has no deployment paths."""
    module = _framework_module(framework, "deploy")
    return None if module is None else f"{module}:DEPLOYMENT"


def load(path: str) -> object:
    """Import "module:attribute"; used inside the worker only."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _subclass(path: str | None, base: type, missing: str) -> type:
    """The class at "module:Class", checked to subclass `base`; LookupError(`missing`) when
    there is no path."""
    if path is None:
        raise LookupError(missing)
    found = load(path)
    if not (isinstance(found, type) and issubclass(found, base)):
        raise TypeError(f"{path} is {found!r}, not a subclass of {base.__name__}")
    return found


# Typed loaders, used inside the worker only (mypy cannot bind an abstract class to a type
# variable, hence the casts after the check).
def runtime_class(framework: str) -> type[Runtime]:
    return cast(type[Runtime], _subclass(runtime_path(framework), Runtime, framework))


def implementation_class(workload: str, framework: str) -> type[Implementation]:
    return cast(type[Implementation], _subclass(
        implementation_path(workload, framework), Implementation,
        f"{framework} does not implement {workload}"))


def deployment_class(framework: str) -> type[Deployment]:
    return cast(type[Deployment], _subclass(
        deployment_path(framework), Deployment, f"{framework} has no deployment paths "
        f"(frameworks/{frameworks()[framework].module}/deploy.py)"))


def pipeline_class(framework: str) -> type[InputPipeline]:
    return cast(type[InputPipeline], _subclass(
        pipeline_path(framework), InputPipeline, f"{framework} has no input pipeline "
        f"(frameworks/{frameworks()[framework].module}/pipeline.py)"))
def use_model(spec: str, *, vocabulary: int | None = None, data: str | None = None,
              python: str | None = None) -> user_model.UserModel:
    """Make the model SPEC names this process's workload (and its workers'): described in a
    child process, named after its file or module (with "-model" added where a workload of
    the catalogue has that name). Raises ModelError (one line) when it cannot be used."""
    source = user_model.parse(spec)
    description = user_model.describe(source, vocabulary=vocabulary, data=data, python=python)
    if description["name"] in _catalogue():
        description["name"] += "-model"
    user_model.activate(description)
    model = user_model.active()
    assert model is not None
    return model


def run_environment() -> dict[str, str | None]:
    """The variables every worker of this process's run must see wherever it runs, None
    for one it must not have: an executor that starts workers on other machines sends them."""
    return user_model.carried()


def environment_here(variables: Mapping[str, str | None]
                     ) -> AbstractContextManager[dict[str, str | None]]:
    """`run_environment()`'s variables, received on another machine, as the workers started
    there can inherit them (a description too long for a variable goes in a file there)."""
    return user_model.here(variables)


def source_digest(workload: str) -> str:
    """What defines a workload beyond dlarena's files: the user's model file's hash and
    description ("" for the catalogue's workloads)."""
    model = user_model.active()
    return model.source_digest() if model is not None and workload == model.name else ""

"""The registry is the layout: a framework file, a workload folder, an implementation file."""

from __future__ import annotations

import ast
import pkgutil
import sys
from pathlib import Path

import numpy as np
import pytest

import dlarena
from dlarena import registry
from dlarena.contract import FrameworkInfo

SOURCE = Path(dlarena.__file__).parent


def test_every_framework_folder_is_registered_under_its_name() -> None:
    """A name's hyphens are the folder's underscores (keras-jax lives in keras_jax/); a
    folder whose name starts with "_" is shared code, no framework (_keras/)."""
    folders = {m.name for m in pkgutil.iter_modules([str(SOURCE / "frameworks")]) if m.ispkg}
    shared = {folder for folder in folders if folder.startswith("_")}
    assert "_keras" in shared
    assert {info.module for info in registry.frameworks().values()} == folders - shared
    for name, info in registry.frameworks().items():
        assert isinstance(info, FrameworkInfo) and info.name == name and info.modes
        assert info.module == (info.twin_of or name).replace("-", "_")
        assert registry.runtime_path(name) == f"dlarena.frameworks.{info.module}.runtime:RUNTIME"


def test_every_framework_has_an_identical_twin_no_rule_chooses() -> None:
    """The A/A control's twin runs its framework's folder and implementation files under
    another name; users never see it listed."""
    for name in registry.names():
        info, twin = registry.frameworks()[name], registry.frameworks()[f"{name}-twin"]
        assert twin.twin_of == name and twin.test_double and not twin.in_default_set
        assert (twin.module, twin.implementation_module, twin.modes) == (
            info.module, info.implementation_module, info.modes)
        for workload in registry.workloads():
            assert registry.implementation_path(workload, twin.name) == (
                registry.implementation_path(workload, name))
    assert not any(name.endswith("-twin") for name in registry.names())


def test_a_framework_that_runs_anothers_implementations_implements_what_that_one_does() -> None:
    """keras-jax and keras-torch run the Keras models that `tensorflow` runs: same workloads,
    same files, and their check is versioned by those files, their own folder and the shared
    Keras folder, never by TensorFlow's."""
    sharing = {name: info for name, info in registry.frameworks().items()
               if info.implementations_of and not info.twin_of}
    assert {"keras-jax", "keras-torch"} <= set(sharing)
    for name, info in sharing.items():
        owner = info.implementations_of
        assert owner in registry.frameworks() and not registry.frameworks()[owner].implementations_of
        for workload in registry.workloads():
            assert registry.implementation_path(workload, name) == (
                registry.implementation_path(workload, owner or ""))
        patterns = registry.source_patterns("mlp", name)
        assert patterns == ("workloads/mlp/keras.py", f"frameworks/{info.module}/*.py",
                            "frameworks/_keras/*.py")
        assert all(list(SOURCE.glob(pattern)) for pattern in patterns)


def test_the_keras_frameworks_run_the_keras_files_and_none_depends_on_another() -> None:
    """tensorflow, keras-jax and keras-torch all run `workloads/<w>/keras.py`; only the
    shared folder's modules are imported across their folders."""
    keras = {name for name, info in registry.frameworks().items()
             if info.implementation_files == "keras" and not info.twin_of}
    assert keras == {"tensorflow", "keras-jax", "keras-torch"}
    assert registry.implementation_path("cnn", "keras-torch") == (
        "dlarena.workloads.cnn.keras:Implementation")
    for name in keras:
        folder = SOURCE / "frameworks" / registry.frameworks()[name].module
        for module in folder.glob("*.py"):
            imported = {node.module for node in ast.walk(ast.parse(module.read_text()))
                        if isinstance(node, ast.ImportFrom) and node.module}
            others = {m for m in imported if m.startswith("dlarena.frameworks.")
                      and m.split(".")[2] in {registry.frameworks()[k].module for k in keras}
                      and m.split(".")[2] != folder.name}
            assert not others, f"{module} imports {others}"


def test_a_framework_naming_itself_unlike_its_folder_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import dlarena.frameworks.keras_jax as package

    monkeypatch.setattr(package, "INFO", FrameworkInfo(
        name="kerasjax", description="", distributions=(), pip_requirement="", modes=("a",),
        eager_mode=None))
    registry.frameworks.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="frameworks/keras_jax/ names itself 'kerasjax'"):
            registry.frameworks()
    finally:
        monkeypatch.undo()
        registry.frameworks.cache_clear()


def test_every_implementation_file_is_run_by_a_known_framework() -> None:
    for folder in (SOURCE / "workloads").iterdir():
        # `_user`: the user's model (--model), no workload of the catalogue.
        if not (folder / "spec.py").exists() or folder.name.startswith("_"):
            continue
        for file in folder.glob("*.py"):
            if file.stem not in ("spec", "__init__"):
                runners = [name for name, info in registry.frameworks().items()
                           if info.implementation_module == file.stem]
                assert runners, file
                for name in runners:
                    assert registry.implementation_path(folder.name, name) is not None


def test_spec_files_import_no_framework() -> None:
    """Specs are read by the coordinator: the standard library, NumPy and dlarena only."""
    allowed = {"numpy", "dlarena", *sys.stdlib_module_names}
    for spec in (SOURCE / "workloads").glob("*/spec.py"):
        tree = ast.parse(spec.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{spec} imports {name}"


def test_framework_modules_import_their_framework_lazily() -> None:
    """Top-level imports of a framework's modules may not name any deep-learning framework."""
    banned = {"torch", "tensorflow", "jax", "keras"}
    modules = sorted((SOURCE / "frameworks").rglob("*.py"))
    assert len(modules) > 6
    for module in modules:
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                    node.module or ""]
                assert not {n.split(".")[0] for n in names} & banned, module


@pytest.mark.parametrize("name", sorted(registry.workloads()))
def test_workloads_describe_consistent_sizes_and_batches(name: str) -> None:
    workload = registry.workloads()[name]
    assert set(workload.sizes) == set(registry.SIZES)
    for size, config in workload.sizes.items():
        shapes = workload.parameter_shapes(size)
        weights = workload.initial_weights(size, seed=0)
        assert {k: v.shape for k, v in weights.items()} == shapes
        assert all(v.dtype == np.float32 for v in weights.values())
        assert workload.trainable_parameter_count(size) > 0
        inputs, labels = workload.synthetic_batch(np.random.default_rng(0), 4, size)
        assert inputs.shape[0] == labels.shape[0] == 4
        assert inputs.dtype in (np.float32, np.int64)  # images and features, or tokens
        again, _ = workload.synthetic_batch(np.random.default_rng(0), 4, size)
        assert np.array_equal(inputs, again)
        assert config.batch_size > 0


def test_initial_weights_are_seeded() -> None:
    mlp = registry.workloads()["mlp"]
    first, again, other = (mlp.initial_weights("cpu", s) for s in (0, 0, 1))
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["dense1.kernel"], other["dense1.kernel"])


def test_cnn_parameter_count_by_hand() -> None:
    cnn = registry.workloads()["cnn"]
    # smoke: convs 3->8, 8->8, 8->16, 16->16 (3x3, no bias) + BN gamma/beta, dense 1024->64->10
    convs = 9 * (3 * 8 + 8 * 8 + 8 * 16 + 16 * 16) + 2 * (8 + 8 + 16 + 16)
    dense = 16 * 8 * 8 * 64 + 64 + 64 * 10 + 10
    assert cnn.trainable_parameter_count("smoke") == convs + dense


def test_a_typed_loader_checks_the_kind_it_returns() -> None:
    from dlarena.contract import Runtime

    assert issubclass(registry.runtime_class("fake"), Runtime)
    with pytest.raises(TypeError, match="not a subclass of Runtime"):
        registry._subclass("dlarena.registry:SIZES", Runtime, "unused")
    with pytest.raises(LookupError, match="none here"):
        registry._subclass(None, Runtime, "none here")

"""`--model SPEC`, the parts that need no framework: SPEC read, the workload made from a
description, configs rewritten for float64 and without dropout, and bad input as one line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlarena import registry
from dlarena.engine import environment
from dlarena.workloads._user import keras_layers
from dlarena.workloads._user import spec as user_model
from tests.cli.test_cli import assert_usage_error, dlarena


def description(**changes: Any) -> dict[str, Any]:
    """What the describing child writes for a small Keras classifier."""
    facts: dict[str, Any] = {
        "name": "tiny", "family": "keras",
        "source": {"spec": "tiny.keras", "kind": "keras-file", "location": "/x/tiny.keras",
                   "function": None, "sha256": "ab" * 32},
        "variables": [["dense.kernel", [6, 4], True], ["dense.bias", [4], True],
                      ["norm.gamma", [4], True], ["norm.moving_variance", [4], False],
                      ["norm.moving_mean", [4], False], ["out.kernel", [4, 3], True]],
        "input": {"shape": [6], "dtype": "float32", "vocabulary": None},
        "output": {"shape": [3]}, "loss": "softmax_cross_entropy", "forward_flops": 72,
        "batch_size": None, "compiled": {}, "noisy_layers": [], "layers": ["dense", "out"],
    }
    facts.update(changes)
    return facts


@pytest.fixture
def active(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Activate a description for this test only (the environment variable is restored)."""
    def activate(facts: dict[str, Any]) -> user_model.UserModel:
        monkeypatch.setenv(user_model.ENVIRONMENT_VARIABLE, json.dumps(facts))
        model = user_model.active()
        assert model is not None
        return model
    return activate


def test_a_spec_names_a_keras_file_a_python_file_or_a_module(tmp_path: Path) -> None:
    saved = tmp_path / "My Net.keras"
    saved.write_bytes(b"zip")
    found = user_model.parse(str(saved))
    assert (found.kind, found.name, found.function) == ("keras-file", "my_net", None)
    assert found.sha256 == hashlib.sha256(b"zip").hexdigest()
    script = tmp_path / "net.py"
    script.write_text("def build(): pass\n")
    assert user_model.parse(f"{script}:build").kind == "python-file"
    module = user_model.parse("package.models:make_model")
    assert (module.kind, module.name, module.sha256) == ("module", "models", None)


@pytest.mark.parametrize(("spec", "needle"), [
    ("missing.keras", "no such file: missing.keras"),
    ("missing.py:build", "no such file: missing.py"),
    ("model.onnx", "expected a .keras file, file.py:function or package.module:function"),
    ("net.py:", "expected a .keras file"),
    ("net.py:2fast", "expected a .keras file"),
    ("not a/module:build", "expected a .keras file"),
])
def test_a_spec_that_names_nothing_usable_says_so(spec: str, needle: str) -> None:
    with pytest.raises(user_model.ModelError, match=needle.replace(".", r"\.")):
        user_model.parse(spec)


def test_the_file_hash_changes_with_the_file_and_is_in_the_code_version(
        tmp_path: Path, active: Any) -> None:
    before = environment.code_version()
    model = active(description())
    with_model = environment.code_version()
    assert with_model != before
    assert registry.source_digest("tiny") == model.source_digest()
    assert registry.source_digest("mlp") == ""
    changed = description(source={**description()["source"], "sha256": "cd" * 32})
    active(changed)
    assert environment.code_version() not in (before, with_model)


def test_the_model_is_a_workload_only_keras_frameworks_implement(active: Any) -> None:
    active(description())
    assert "tiny" in registry.workloads()
    assert registry.implementation_path("tiny", "keras-jax") == (
        "dlarena.workloads._user.keras:Implementation")
    assert registry.implementation_path("tiny", "torch") is None
    assert registry.implementation_path("tiny", "fake") is None  # a test double cannot run it
    assert registry.implementation_path("mlp", "fake") is not None
    active(description(family="torch"))
    assert registry.implementation_path("tiny", "torch") == (
        "dlarena.workloads._user.torch:Implementation")
    assert registry.implementation_path("tiny", "tensorflow") is None


_READ_IN_A_WORKER = ("from dlarena.workloads._user import spec; model = spec.active(); "
                     "print(model.facts['name'], len(model.facts['layers']))")


def test_a_description_too_long_for_an_environment_variable_reaches_every_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux caps one environment variable at 128 KiB: a model with a few thousand layers
    would leave every worker unable to start (E2BIG). Such a description is kept in a file
    the variable names, here and on another machine (`here`, what a Ray node does with what
    `carried` sent it), and a started process reads the whole of it."""
    # setenv, not delenv: an unset variable that delenv found absent is not restored, and
    # `activate` below would leave this model active for every later test of the process.
    monkeypatch.setenv(user_model.ENVIRONMENT_VARIABLE, "")
    big = description(layers=[f"block_{index}.conv" for index in range(20_000)])
    assert len(json.dumps(big)) > 128 * 1024
    user_model.activate(big)
    value = os.environ[user_model.ENVIRONMENT_VARIABLE]
    assert value.startswith("@") and len(value) < 4096
    child = subprocess.run([sys.executable, "-c", _READ_IN_A_WORKER], capture_output=True,
                           text=True, check=False)
    assert child.stdout.split() == ["tiny", "20000"], child.stderr
    sent = user_model.carried()[user_model.ENVIRONMENT_VARIABLE]
    assert sent is not None and json.loads(sent) == big
    with user_model.here({user_model.ENVIRONMENT_VARIABLE: sent}) as variables:
        there = variables[user_model.ENVIRONMENT_VARIABLE]
        assert there is not None and there.startswith("@") and there != value
        child = subprocess.run([sys.executable, "-c", _READ_IN_A_WORKER], capture_output=True,
                               text=True, check=False,
                               env={**os.environ, user_model.ENVIRONMENT_VARIABLE: there})
        assert child.stdout.split() == ["tiny", "20000"], child.stderr
    assert not Path(there[1:]).exists()  # the node's copy goes with its task
    small = json.dumps(description(), sort_keys=True)
    with user_model.here({user_model.ENVIRONMENT_VARIABLE: small}) as variables:
        assert variables == {user_model.ENVIRONMENT_VARIABLE: small}


def test_without_a_model_the_catalogue_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(user_model.ENVIRONMENT_VARIABLE, raising=False)
    assert not any(name.startswith("_") for name in registry.workloads())
    assert "tiny" not in registry.workloads()


def test_synthetic_batches_follow_the_input_signature_and_the_loss(active: Any) -> None:
    model = active(description())
    inputs, labels = model.synthetic_batch(np.random.default_rng(0), 5, "smoke")
    assert inputs.shape == (5, 6) and inputs.dtype == np.float32
    assert labels.shape == (5,) and labels.dtype == np.int64 and labels.max() < 3
    tokens = active(description(input={"shape": [7], "dtype": "int32", "vocabulary": 11},
                                output={"shape": [7, 11]}))
    inputs, labels = tokens.synthetic_batch(np.random.default_rng(0), 50, "smoke")
    assert inputs.dtype == np.int32 and inputs.shape == (50, 7) and inputs.max() == 10
    assert labels.shape == (50, 7) and labels.max() < 11
    binary = active(description(output={"shape": [1]}, loss="sigmoid_cross_entropy"))
    _, labels = binary.synthetic_batch(np.random.default_rng(0), 50, "smoke")
    assert labels.shape == (50,) and set(np.unique(labels)) == {0.0, 1.0}


def test_data_from_an_npz_is_sampled_by_rows(tmp_path: Path, active: Any) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=np.arange(60, dtype=np.float32).reshape(10, 6), y=np.arange(10))
    model = active(description(data=str(path)))
    inputs, labels = model.synthetic_batch(np.random.default_rng(0), 4, "smoke")
    assert inputs.shape == (4, 6)
    np.testing.assert_array_equal(inputs[:, 0] / 6, labels)  # rows stay with their labels


@pytest.mark.parametrize(("arrays", "needle"), [
    ({"x": np.zeros((3, 6))}, "needs arrays named inputs and labels"),
    ({"inputs": np.zeros((3, 6)), "labels": np.zeros(2)}, "3 inputs and 2 labels"),
])
def test_bad_data_files_say_why(tmp_path: Path, arrays: dict[str, np.ndarray],
                                needle: str) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    with pytest.raises(user_model.ModelError, match=needle):
        user_model.read_data(str(path))
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(user_model.ModelError, match=r"not a NumPy \.npz file"):
        user_model.read_data(str(tmp_path / "text.npz"))


def test_initial_weights_cover_every_variable_and_count_the_trainable_ones(
        active: Any) -> None:
    model = active(description())
    weights = model.initial_weights("smoke", 0)
    assert set(weights) == set(model.parameter_shapes("smoke"))
    assert model.trainable_parameter_count("smoke") == 6 * 4 + 4 + 4 + 4 * 3
    np.testing.assert_array_equal(weights["norm.moving_variance"], 1)
    np.testing.assert_array_equal(weights["norm.moving_mean"], 0)
    np.testing.assert_array_equal(weights["norm.gamma"], 1)
    assert np.abs(weights["dense.kernel"]).max() <= np.sqrt(6 / 10)
    assert weights["dense.kernel"].std() > 0.1  # drawn, not zeros
    torch_model = active(description(family="torch", variables=[
        ["fc.weight", [4, 6], True], ["fc.bias", [4], True], ["norm.weight", [4], True],
        ["embed.weight", [100, 4], True], ["norm.running_var", [4], False]]))
    weights = torch_model.initial_weights("smoke", 0)
    np.testing.assert_array_equal(weights["norm.weight"], 1)  # a norm's scale, not a kernel
    np.testing.assert_array_equal(weights["norm.running_var"], 1)
    assert np.abs(weights["embed.weight"]).max() <= 0.05


def _layer(class_name: str, **config: Any) -> dict[str, Any]:
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
              "registered_name": None}
    return {"module": "keras.layers", "class_name": class_name,
            "config": {"dtype": policy, **config}, "registered_name": None}


def test_a_config_is_rewritten_to_float64_and_without_dropout_only_when_asked() -> None:
    config = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"dtype": "float32", "batch_shape": [None, 6]}},
        {"class_name": "InputLayer", "config": {"dtype": "int32", "batch_shape": [None, 6]}},
        _layer("Dense", units=4), _layer("Dropout", rate=0.5),
        _layer("TransformerEncoder", dropout=0.1, attention_dropout=0.2, units=3),
        _layer("GaussianNoise", stddev=0.3)]}}
    checked = keras_layers.rewritten(config, dtype="float64", without_dropout=True)
    layers = checked["config"]["layers"]
    assert layers[0]["config"]["dtype"] == "float64"
    assert layers[1]["config"]["dtype"] == "int32"  # integer inputs stay integers
    assert all(layer["config"]["dtype"]["config"]["name"] == "float64" for layer in layers[2:])
    assert layers[3]["config"]["rate"] == 0.0
    assert (layers[4]["config"]["dropout"], layers[4]["config"]["attention_dropout"],
            layers[4]["config"]["units"]) == (0.0, 0.0, 3)
    assert layers[5]["config"]["stddev"] == 0.0
    timed = keras_layers.rewritten(config, dtype="float32", without_dropout=False)
    assert timed["config"]["layers"][3]["config"]["rate"] == 0.5
    assert config["config"]["layers"][3]["config"]["rate"] == 0.5  # the original is kept


@pytest.mark.parametrize(("source", "needle"), [
    ("def build():\n    return 42\n", "gave int, not a Keras model, nor a PyTorch module"),
    ("def build():\n    raise RuntimeError('no GPU here')\n",
     "build() raised RuntimeError: no GPU here"),
    ("def make():\n    pass\n", "defines no function build"),
    ("import no_such_package_dlarena\n", "importing net.py raised ModuleNotFoundError"),
])
@pytest.mark.parametrize("command", ["run", "check"])
def test_a_function_that_gives_no_model_is_one_line_and_exit_2(
        tmp_path: Path, source: str, needle: str, command: str) -> None:
    script = tmp_path / "net.py"
    script.write_text(source)
    db = tmp_path / "results" / "r.db"
    args = ["--db", str(db)] if command == "run" else []
    assert_usage_error(dlarena(command, "--model", f"{script}:build", *args), needle)
    assert not db.parent.exists()  # nothing stored, not even the folder


@pytest.mark.parametrize(("args", "needle"), [
    (["--model", "missing.keras"], "--model: no such file: missing.keras"),
    (["--model", "weights.h5"], "expected a .keras file, file.py:function"),
    (["--vocabulary", "10"], "--vocabulary applies to a model given with --model"),
    (["--data", "d.npz"], "--data applies to a model given with --model"),
    (["--model", "x.keras", "--workloads", "mlp"], "leave out --workloads"),
])
def test_model_flags_misused_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    db = tmp_path / "results" / "r.db"
    assert_usage_error(dlarena("run", *args, "--db", str(db)), needle)
    assert list(tmp_path.iterdir()) == []

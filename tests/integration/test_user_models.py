"""`--model SPEC` for real: a Keras model on the three Keras backends, a PyTorch module in its
modes and engines, the examples/ models nobody here wrote, and models that cannot be checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import json_report, require

pytestmark = pytest.mark.frameworks
ROOT = Path(__file__).resolve().parents[2]
KERAS_FRAMEWORKS = "tensorflow,keras-jax,keras-torch"
# A functional Keras model with a convolution, BatchNorm, an embedding-free float input and a
# dropout layer (the check turns it off), saved by another process.
SAVE_KERAS_MODEL = """
import sys, keras
inputs = keras.Input((8, 8, 3))
x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
x = keras.layers.BatchNormalization(name="norm")(x)
x = keras.layers.ReLU(name="relu")(x)
x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
x = keras.layers.Dropout(0.5, name="drop")(x)
outputs = keras.layers.Dense(5, name="out")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
model.save(sys.argv[1])
"""


def dlarena(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dlarena.cli", *args], capture_output=True,
                          text=True, timeout=timeout, check=False, cwd=ROOT)


def saved_keras_model(folder: Path) -> Path:
    path = folder / "small_net.keras"
    subprocess.run([sys.executable, "-c", SAVE_KERAS_MODEL, str(path)], check=True,
                   env={**os.environ, "KERAS_BACKEND": "jax"}, timeout=300)
    return path


def test_a_saved_keras_file_is_the_same_model_on_three_backends(tmp_path: Path) -> None:
    """Rebuilt in float64 from its own config on each backend: parameters, layer outputs in
    both modes, gradients and optimizer steps agree (dropout off in the check)."""
    for module in ("keras", "jax", "torch", "tensorflow"):
        require(module)
    path = saved_keras_model(tmp_path)
    checked = dlarena("check", "--model", str(path), "--threads", "1")
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-3000:]
    assert checked.stdout.count("same model") == 3, checked.stdout
    assert "✗" not in checked.stdout
    assert "forward (training mode): 3 layer outputs agree" in checked.stdout, checked.stdout


def test_a_dropout_model_run_gives_verdicts_and_says_dropout_is_off_in_the_check(
        tmp_path: Path) -> None:
    for module in ("keras", "jax", "torch", "tensorflow"):
        require(module)
    path = saved_keras_model(tmp_path)
    db = tmp_path / "r.db"
    ran = dlarena("run", "--model", str(path), "--size", "smoke", "--threads", "1",
                  "--scenarios", "train", "--windows", "2", "--min-window", "0.05",
                  "--max-rounds", "2", "--db", str(db))
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-3000:]
    document = json_report(db)
    frameworks = {cell["framework"] for cell in document["cells"]}
    assert frameworks == set(KERAS_FRAMEWORKS.split(","))
    manifests = [cell["manifest"] for cell in document["cells"]]
    assert all("drop" in manifest["random_layers"] for manifest in manifests)
    assert all(manifest["model_source"] == str(path) for manifest in manifests)
    assert len(document["parity"]) == 3 and all(p["passed"] for p in document["parity"])


def test_a_model_one_backend_cannot_run_is_a_row_that_says_why(tmp_path: Path) -> None:
    """A TensorFlow op inside a Lambda-free custom layer: TensorFlow runs it, JAX cannot."""
    require("tensorflow")
    require("jax")
    script = tmp_path / "tf_only.py"
    script.write_text(
        "import keras\n"
        "import tensorflow as tf\n\n"
        "@keras.saving.register_keras_serializable(package='test')\n"
        "class Sort(keras.layers.Layer):\n"
        "    def call(self, x):\n"
        "        return tf.sort(x, axis=-1)\n\n"
        "def build():\n"
        "    inputs = keras.Input((6,))\n"
        "    x = keras.layers.Dense(4, name='dense')(inputs)\n"
        "    return keras.Model(inputs, keras.layers.Dense(3, name='out')(Sort(name='sort')(x)))\n")
    db = tmp_path / "r.db"
    ran = dlarena("run", "--model", f"{script}:build", "--frameworks", "tensorflow,keras-jax",
                  "--size", "smoke", "--threads", "1", "--scenarios", "infer", "--windows", "2",
                  "--min-window", "0.05", "--no-until-decided", "--no-parity", "--db", str(db))
    assert ran.returncode == 1, ran.stdout[-3000:] + ran.stderr[-3000:]
    cells = {cell["framework"]: cell for cell in json_report(db)["cells"]}
    assert cells["tensorflow"]["status"] == "ok"
    assert cells["keras-jax"]["status"] == "error" and cells["keras-jax"]["error"]


def test_the_keras_hub_example_prints_three_backends_with_the_proof_and_verdicts(
        tmp_path: Path) -> None:
    for module in ("keras", "keras_hub", "jax", "torch", "tensorflow"):
        require(module)
    db = tmp_path / "r.db"
    # Inference only (the check covers training): CI time.
    ran = dlarena("run", "--model", "examples/keras_hub_resnet.py:build", "--size", "smoke",
                  "--threads", "1", "--scenarios", "infer", "--windows", "2", "--min-window",
                  "0.05", "--max-rounds", "2", "--db", str(db))
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-3000:]
    for framework in KERAS_FRAMEWORKS.split(","):
        assert framework in ran.stdout
    document = json_report(db)
    assert len(document["parity"]) == 3 and all(p["passed"] for p in document["parity"])
    assert document["verdicts"], "no verdicts"


def test_the_transformers_example_runs_eager_compiled_exported_onnx_runtime_and_openvino(
        tmp_path: Path) -> None:
    example = "transformers_bert"
    for module in ("torch", "transformers", "onnxruntime", "openvino"):
        require(module)
    db = tmp_path / "r.db"
    # No training cells (compiling BERT's backward pass takes minutes; the check covers
    # training in both modes): CI time.
    ran = dlarena("run", "--model", f"examples/{example}.py:build", "--size", "smoke",
                  "--threads", "1", "--scenarios",
                  "infer,save-program,export-onnx,export-openvino", "--windows", "2",
                  "--min-window", "0.05", "--max-rounds", "2", "--db", str(db))
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-3000:]
    document = json_report(db)
    cells = document["cells"]
    modes = {cell["mode"] for cell in cells if cell["scenario"] == "infer"}
    assert modes == {"eager", "compile"}
    scenarios = {cell["scenario"] for cell in cells}
    assert {"infer", "save-program", "export-onnx", "export-openvino"} <= scenarios
    assert all(cell["status"] == "ok" for cell in cells), [
        (cell["scenario"], cell["mode"], cell.get("error")) for cell in cells
        if cell["status"] != "ok"]
    assert all(p["passed"] for p in document["parity"]), document["parity"]

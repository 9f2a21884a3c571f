"""The user's model as a `Workload`, from its description; and SPEC read, described, passed on.

Framework-free (NumPy at most), like every `spec.py`: the coordinator imports it. The model is
described in a child process (`describe.py`) that imports the framework; the description is a
JSON document that the coordinator keeps in `ENVIRONMENT_VARIABLE`, which every worker
inherits, so a worker knows the workload before it rebuilds the model from SPEC. Linux caps
one environment variable at 128 KiB (a model of ~1,800 parameter tensors would pass it, and
its workers would fail to start with E2BIG): a larger description is written to a private
file and the variable holds "@" and its path.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlarena.contract import Shape, SizeConfig, Workload

ENVIRONMENT_VARIABLE = "DLARENA_MODEL"
# Descriptions longer than this travel as a file the variable names ("@/path/model.json"):
# Linux's limit for one variable is 128 KiB (MAX_ARG_STRLEN).
INLINE_LIMIT_BYTES = 64 * 1024
# The implementation module a model runs in: `keras.py` (every Keras backend) or `torch.py`.
FAMILIES = ("keras", "torch")
# Batch sizes when the model fixes none (a PyTorch build's example inputs fix one).
DEFAULT_BATCH = {"smoke": 8, "cpu": 32, "full": 128}
# The describing child imports the framework and builds the model once: bounded.
DESCRIBE_TIMEOUT_SECONDS = 600.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
USAGE = "expected a .keras file, file.py:function or package.module:function"


class ModelError(ValueError):
    """A model that cannot be used as asked: one line that says why."""


@dataclass(frozen=True)
class Source:
    """Where the model comes from; `sha256` is its file's (part of the run's code version)."""

    spec: str
    kind: str  # "keras-file", "python-file" or "module"
    location: str  # an absolute file path, or a module name
    function: str | None
    sha256: str | None  # a module's is found by the describing child
    # Where a module is imported from: the folder the command ran in, as Python's `-m` does.
    search_path: str = ""

    @property
    def name(self) -> str:
        """The workload's name: the file's stem, or the module's last part, as written."""
        stem = (Path(self.location).stem if self.kind != "module"
                else self.location.rpartition(".")[2])
        return re.sub(r"[^a-z0-9_-]+", "_", stem.lower()).strip("_") or "model"


def parse(spec: str) -> Source:
    """SPEC -> Source; a missing file or a malformed SPEC is a ModelError."""
    text = spec.strip()
    if text.endswith(".keras"):
        return Source(spec, "keras-file", _existing(text), None, _sha256(text))
    location, colon, function = text.rpartition(":")
    if not colon or not location or not _IDENTIFIER.fullmatch(function):
        raise ModelError(f"--model {spec!r}: {USAGE}")
    if location.endswith(".py"):
        return Source(spec, "python-file", _existing(location), function, _sha256(location))
    if not _MODULE.fullmatch(location):
        raise ModelError(f"--model {spec!r}: {USAGE}")
    return Source(spec, "module", location, function, None, os.getcwd())


def _existing(path: str) -> str:
    found = Path(path)
    if not found.is_file():
        raise ModelError(f"--model: no such file: {path}")
    return str(found.resolve())


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_data(path: str) -> dict[str, np.ndarray]:
    """--data file.npz: arrays `inputs` and `labels` (or `x` and `y`), as many rows each."""
    if not Path(path).is_file():
        raise ModelError(f"--data: no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in saved.files}
    except (OSError, ValueError) as error:
        raise ModelError(f"--data {path}: not a NumPy .npz file ({error})") from None
    inputs, labels = arrays.get("inputs", arrays.get("x")), arrays.get("labels", arrays.get("y"))
    if inputs is None or labels is None:
        raise ModelError(f"--data {path}: needs arrays named inputs and labels (or x and y), "
                         f"has {', '.join(arrays) or 'none'}")
    if len(inputs) != len(labels) or len(inputs) == 0:
        raise ModelError(f"--data {path}: {len(inputs)} inputs and {len(labels)} labels; "
                         "give as many of each, at least one")
    return {"inputs": inputs, "labels": labels}


def _child_backends() -> list[str]:
    """The Keras backends the describing child may import Keras on, quickest first."""
    found = [name for name in ("jax", "torch", "tensorflow")
             if importlib.util.find_spec(name) is not None]
    return found or ["jax"]


def describe(source: Source, *, vocabulary: int | None, data: str | None,
             python: str | None = None) -> dict[str, Any]:
    """The model's description, made by a child process that builds it once: on each Keras
    backend in turn until one builds it (a model with a TensorFlow op builds on TensorFlow
    alone; its cells on the other backends then fail saying why). The first error is the one
    reported when none does."""
    backends = ([os.environ["KERAS_BACKEND"]] if os.environ.get("KERAS_BACKEND")
                else _child_backends())
    errors = []
    for backend in backends:
        try:
            description = _described(source, vocabulary, backend, python)
        except ModelError as error:
            errors.append(error)
            continue
        if data is not None:
            description["data"] = _checked_data(data, description)
        return description
    raise errors[0]


def _described(source: Source, vocabulary: int | None, backend: str,
               python: str | None) -> dict[str, Any]:
    request = json.dumps({"source": asdict(source), "vocabulary": vocabulary})
    env = {**os.environ, "KERAS_BACKEND": backend,
           "PYTHONPATH": os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH"))
                                         if p),
           "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    env.pop(ENVIRONMENT_VARIABLE, None)
    try:
        finished = subprocess.run(
            [python or sys.executable, "-m", "dlarena.workloads._user.describe"], input=request,
            capture_output=True, text=True, env=env, timeout=DESCRIBE_TIMEOUT_SECONDS,
            check=False)
    except subprocess.TimeoutExpired:
        raise ModelError(f"--model {source.spec}: building the model took over "
                         f"{DESCRIBE_TIMEOUT_SECONDS:.0f} s") from None
    lines = [line for line in finished.stdout.splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        answer = {}
    if "error" in answer:
        raise ModelError(f"--model {source.spec}: {answer['error']}")
    if "description" not in answer:
        tail = finished.stderr.strip().splitlines()[-1:] or [f"exit code {finished.returncode}"]
        raise ModelError(f"--model {source.spec}: describing the model failed: {tail[0]}")
    description: dict[str, Any] = answer["description"]
    return description


def _checked_data(path: str, description: dict[str, Any]) -> str:
    arrays = read_data(path)
    expected = description["input"]["shape"]
    found = list(arrays["inputs"].shape[1:])
    if len(found) != len(expected) or any(e is not None and e != f
                                           for e, f in zip(expected, found, strict=True)):
        raise ModelError(f"--data {path}: inputs of shape {tuple(found)} per row, the model "
                         f"takes {tuple(expected)}")
    return str(Path(path).resolve())


def activate(description: dict[str, Any]) -> None:
    """Make the described model this process's workload, and its workers'."""
    text = json.dumps(description, sort_keys=True)
    if len(text.encode()) <= INLINE_LIMIT_BYTES:
        os.environ[ENVIRONMENT_VARIABLE] = text
        return
    folder = tempfile.mkdtemp(prefix="dlarena-model-")  # mode 0700
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ[ENVIRONMENT_VARIABLE] = "@" + _written(text, Path(folder))


def _written(text: str, folder: Path) -> str:
    path = folder / "model.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _document(value: str) -> str:
    """The description a variable's value gives: itself, or the file it names."""
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except OSError as error:
        raise ModelError(f"{ENVIRONMENT_VARIABLE}: the model's description at {value[1:]} "
                         f"cannot be read ({error.strerror})") from None


def carried() -> dict[str, str | None]:
    """What a worker started elsewhere (a cluster's node) must be given to know this
    process's workload: the description itself (a file here is not there), or None where
    there is no user's model (the node's own environment must not supply one)."""
    value = os.environ.get(ENVIRONMENT_VARIABLE)
    return {ENVIRONMENT_VARIABLE: _document(value) if value else None}


@contextlib.contextmanager
def here(variables: Mapping[str, str | None]) -> Iterator[dict[str, str | None]]:
    """`carried()`'s variables as this machine's workers can inherit them: a description
    too long for a variable is written to a private file for as long as the block runs."""
    value = variables.get(ENVIRONMENT_VARIABLE)
    if not value or len(value.encode()) <= INLINE_LIMIT_BYTES:
        yield dict(variables)
        return
    with tempfile.TemporaryDirectory(prefix="dlarena-model-") as folder:
        yield {**variables, ENVIRONMENT_VARIABLE: "@" + _written(value, Path(folder))}


def active() -> UserModel | None:
    """The workload this process was given (`activate`, inherited by workers), if any."""
    value = os.environ.get(ENVIRONMENT_VARIABLE)
    return None if not value else _workload_of(value)


@cache
def _workload_of(value: str) -> UserModel:
    return _workload(_document(value))


@cache
def _data(path: str) -> dict[str, np.ndarray]:
    """A --data file, read once per process."""
    return read_data(path)


@cache
def _workload(text: str) -> UserModel:
    return UserModel(json.loads(text))


class UserModel(Workload):
    """A workload made from the description of the user's model (see `describe.py`)."""

    name: ClassVar[str] = "model"
    description: ClassVar[str] = "the user's model"
    sizes: ClassVar[dict[str, SizeConfig]] = {}

    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts
        batch = facts.get("batch_size")
        # Instance attributes shadow the class's: one description, one workload.
        vars(self).update(
            name=facts["name"], loss=facts["loss"],
            description=f"{facts['source']['spec']} ({facts['family']}; the user's model)",
            sizes={size: SizeConfig(batch_size=batch or default,
                                    description=f"batch {batch or default}")
                   for size, default in DEFAULT_BATCH.items()})
        self.variables = [(str(name), tuple(int(n) for n in shape), bool(trainable))
                          for name, shape, trainable in facts["variables"]]

    @property
    def family(self) -> str:
        """The implementation module that runs it: "keras" or "torch"."""
        return str(self.facts["family"])

    @property
    def default_scenarios(self) -> tuple[str, ...]:
        """Training and inference; for a PyTorch module also its exported program
        (torch.export), ONNX Runtime, OpenVINO and AOTInductor, each checked against the
        module's own outputs."""
        return ("train", "infer", *(("save-program", "export-onnx", "export-openvino",
                                     "export-aotinductor") if self.family == "torch" else ()))

    @property
    def default_modes(self) -> tuple[str, ...]:
        """Each Keras backend's default mode; PyTorch's eager and torch.compile (a single
        framework: its modes are what is compared)."""
        return ("eager", "compile") if self.family == "torch" else ("default",)

    @property
    def source(self) -> dict[str, Any]:
        return dict(self.facts["source"])

    def source_digest(self) -> str:
        """The model's file hash with its description: what makes it this model."""
        return hashlib.sha256(json.dumps(self.facts, sort_keys=True).encode()).hexdigest()

    def forward_flops(self, size: str) -> int:
        return int(self.facts.get("forward_flops") or 0)

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        return {name: shape for name, shape, _ in self.variables}

    def trainable_parameter_count(self, size: str) -> int:
        return sum(int(np.prod(shape)) for _, shape, trainable in self.variables if trainable)

    def initial_weights(self, size: str, seed: int) -> dict[str, np.ndarray]:
        """Glorot-uniform for every trainable weight of two or more axes (fans read in the
        family's orientation), uniform +-0.05 for embeddings, ones for the scales of
        normalisations and for running variances, zeros for biases and other state."""
        rng = np.random.default_rng(seed)
        weights: dict[str, np.ndarray] = {}
        for name, shape, trainable in self.variables:
            leaf = name.rsplit(".", 1)[-1].lower()
            if not trainable or len(shape) < 2:
                ones = ("var" in leaf if not trainable
                        else leaf.endswith(("gamma", "scale")) or (
                            self.family == "torch" and leaf.endswith("weight")))
                weights[name] = np.full(shape, 1.0 if ones else 0.0, np.float32)
            elif "embed" in name.lower():
                weights[name] = rng.uniform(-0.05, 0.05, size=shape).astype(np.float32)
            else:
                limit = np.sqrt(6.0 / sum(self._fans(shape)))
                weights[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        return weights

    def _fans(self, shape: Shape) -> tuple[int, int]:
        """(fan in, fan out): PyTorch's weights are (out, in, *kernel), Keras' (*kernel, in,
        out) (its attention kernels too, with heads folded into the product)."""
        if self.family == "torch":
            receptive = int(np.prod(shape[2:]))
            return shape[1] * receptive, shape[0] * receptive
        receptive = int(np.prod(shape[:-2]))
        return shape[-2] * receptive, shape[-1] * receptive

    def synthetic_batch(self, rng: np.random.Generator, batch_size: int,
                        size: str) -> tuple[np.ndarray, np.ndarray]:
        if self.facts.get("data"):
            arrays = _data(self.facts["data"])
            rows = rng.integers(0, len(arrays["inputs"]), size=batch_size)
            return arrays["inputs"][rows], arrays["labels"][rows]
        return self.synthetic_inputs(rng, batch_size), self.synthetic_labels(rng, batch_size)

    def synthetic_inputs(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """From the input signature: integers below the vocabulary, else floats in [0, 1)."""
        spec = self.facts["input"]
        shape = (batch_size, *spec["shape"])
        if spec.get("vocabulary"):
            return rng.integers(0, spec["vocabulary"], size=shape).astype(spec["dtype"])
        return rng.random(shape, dtype=np.float32)

    def synthetic_labels(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """Labels the loss takes: class indices over the output's last axis, or 0/1."""
        output = self.facts["output"]["shape"]
        if self.loss == "softmax_cross_entropy":
            return rng.integers(0, output[-1], size=(batch_size, *output[:-1]), dtype=np.int64)
        shape = (batch_size, *(output[:-1] if output and output[-1] == 1 else output))
        return (rng.random(shape) < 0.5).astype(np.float32)

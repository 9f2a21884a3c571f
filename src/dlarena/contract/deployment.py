"""How a framework saves, loads and exports a built implementation: its `deploy.py`.

`frameworks/<name>/deploy.py` defines `DEPLOYMENT`, a subclass of `Deployment`; a framework
without that file has no deployment scenarios (its cells fail saying so). The worker drives
it around the implementation the cell built, so one class serves every workload.

Three kinds of native save cover what each ecosystem offers, so cells compare like with like:
`weights` (loading needs the model's code: PyTorch's `state_dict`, Keras' `.weights.h5`),
`model` (architecture and weights in one file: a pickled `nn.Module`, a `.keras` file) and
`program` (a traced program that runs without the model's code: `torch.export`, SavedModel).
Portable formats are exported files that another runtime runs: `onnx`, `litert` and
`aotinductor` (a PyTorch program compiled ahead of time into a shared library, run by
PyTorch's AOTInductor loader without Python's model code).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from dlarena.contract.implementation import Implementation

SAVE_KINDS = ("weights", "model", "program")
PORTABLE_FORMATS = ("onnx", "litert", "aotinductor")

# canonical inputs -> outputs, as float64-free NumPy (the model's own dtype).
Predict = Callable[[np.ndarray], np.ndarray]


def inference(impl: Implementation, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The built implementation's own inference on canonical inputs: what every saved or
    exported form is checked against, and what the model server answers with."""
    impl.prepare(training=False)
    return np.asarray(impl.runtime.to_numpy(impl.infer_step(impl.to_device(inputs, labels))))


def contiguous_in(dtype: str, native: np.ndarray) -> np.ndarray:
    """Native-layout inputs as a portable runtime takes them: floats in the cell's dtype,
    contiguous."""
    if np.issubdtype(native.dtype, np.floating):
        native = native.astype(dtype)
    return np.ascontiguousarray(native)


class Deployment(ABC):
    """One framework's save, load and export paths around a built implementation."""

    # The portable formats `export` writes; asked for another, a cell is `unsupported` with
    # a reason that says so, and `export` is never called.
    portable_formats: tuple[str, ...] = ("onnx", "litert")
    # Model servers of the framework's ecosystem that serve its models, beside dlarena's own
    # small server: "torchserve" (scenario serve-torchserve). Asked for another, a cell is
    # `unsupported` saying so.
    model_servers: tuple[str, ...] = ()

    def __init__(self, impl: Implementation) -> None:
        self.impl = impl

    @abstractmethod
    def format_name(self, kind: str) -> str:
        """The framework's own name for its format of one save kind (`state_dict`);
        raise ExportUnsupported when it has none."""

    @abstractmethod
    def bit_exact(self, kind: str) -> bool:
        """True when the format promises the loaded model computes bit for bit as the saved
        one (the same kernels on the same weights); False: within float32 tolerance."""

    @abstractmethod
    def predict(self, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The built model's outputs on canonical inputs, in inference mode, on the host."""

    @abstractmethod
    def save(self, kind: str, folder: str, inputs: np.ndarray) -> str:
        """Write the model in the kind's format inside `folder`; the path written (a file or
        a folder). `inputs` are canonical example inputs, for formats that trace."""

    @abstractmethod
    def load(self, kind: str, path: str) -> Predict:
        """Read a saved model in this (fresh) process. For `weights` the implementation was
        built with other weights than the saved ones, so a loader that reads nothing fails."""

    @abstractmethod
    def export(self, portable_format: str, folder: str, inputs: np.ndarray) -> str:
        """Export to a portable format inside `folder` (batch dimension dynamic); the path.
        `inputs` are canonical example inputs. Raise ExportUnsupported with the converter's
        own reason where it refuses the model (the cell is then `unsupported`)."""

    def open_exported(self, portable_format: str, path: str, threads: int
                      ) -> tuple[Predict, str] | None:
        """An exported model that only this framework runs (AOTInductor's package), opened
        with `threads`, and its runtime's name and version; None (the default): a portable
        runtime (deploy/portable.py) runs the format."""
        return None

    @abstractmethod
    def portable_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Canonical inputs -> what the exported model takes (its native layout)."""

"""PyTorch's save, load and export paths: `state_dict`, a pickled module, `torch.export`,
ONNX through `torch.onnx.export` (the dynamo exporter, which needs `onnxscript`).

LiteRT from PyTorch goes through `litert-torch` (formerly `ai-edge-torch`); on this machine's
pinned stack installing it would downgrade `typing_extensions` (4.16 -> 4.12), so it is not
installed by `make` and its cells are unsupported, saying why (see docs/deploy.md).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from dlarena.contract import Deployment, ExportUnsupported, Predict
from dlarena.contract.deployment import inference
from dlarena.frameworks.torch.model import TorchModel

_FORMATS = {"weights": "state_dict", "model": "pickled nn.Module", "program": "torch.export"}
_FILES = {"weights": "model.pt", "model": "module.pt", "program": "model.pt2"}
_LITERT_MISSING = ("litert-torch is not installed: installing it here would downgrade "
                   "typing_extensions 4.16 -> 4.12 and add 35 packages (transformers, torchao, "
                   "huggingface_hub ...), so make does not install it; tried from a folder of "
                   "its own, litert-torch 0.10 imports with torch 2.13 but converts a fixed "
                   "batch only (a symbolic batch fails: 'Shapes must be 1D sequences of "
                   "concrete values of integer type'), where this scenario runs batch 8 and 1")
# The largest batch an exported program accepts (its batch dimension is symbolic).
MAX_BATCH = 1 << 16


class TorchDeployment(Deployment):
    impl: TorchModel

    def format_name(self, kind: str) -> str:
        return _FORMATS[kind]

    def bit_exact(self, kind: str) -> bool:
        # The same module on the same weights; an exported program runs decomposed ATen ops.
        return kind in ("weights", "model")

    def _tensor(self, inputs: np.ndarray) -> Any:
        labels = np.zeros(len(inputs), np.int64)
        return self.impl.to_device(inputs, labels)[0]

    def predict(self, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return inference(self.impl, inputs, labels)

    def _run(self, module: Any) -> Predict:
        import torch

        def predict(inputs: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return np.asarray(module(self._tensor(inputs)).detach().cpu().numpy())
        return predict

    def _program(self, inputs: np.ndarray) -> Any:
        import torch

        self.impl.prepare(training=False)
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        example = self._tensor(inputs).contiguous()
        return torch.export.export(self.impl.model, (example,), dynamic_shapes=({0: batch},))

    def save(self, kind: str, folder: str, inputs: np.ndarray) -> str:
        import torch

        path = os.path.join(folder, _FILES[kind])
        if kind == "weights":
            torch.save(self.impl.model.state_dict(), path)
        elif kind == "model":
            torch.save(self.impl.model, path)
        else:
            torch.export.save(self._program(inputs), path)
        return path

    def load(self, kind: str, path: str) -> Predict:
        import torch

        if kind == "weights":
            self.impl.model.load_state_dict(torch.load(path, weights_only=True))
            self.impl.prepare(training=False)
            return self._run(self.impl.forward)
        if kind == "model":
            # A pickle runs code when read: only for files one wrote oneself.
            module = torch.load(path, weights_only=False)
            module.eval()
            return self._run(module)
        return self._run(torch.export.load(path).module())

    portable_formats = ("onnx", "litert", "aotinductor")
    # TorchServe, PyTorch's model server, runs the model dlarena's server answers with.
    model_servers = ("torchserve",)

    def export(self, portable_format: str, folder: str, inputs: np.ndarray) -> str:
        import torch

        if portable_format == "aotinductor":
            return self._aotinductor(folder, inputs)
        if portable_format == "litert":
            if importlib.util.find_spec("litert_torch") is None:
                raise ExportUnsupported(_LITERT_MISSING)
            raise ExportUnsupported("litert-torch export is not wired up yet")
        path = os.path.join(folder, "model.onnx")
        self.impl.prepare(training=False)
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        example = self._tensor(inputs).contiguous()
        try:
            torch.onnx.export(self.impl.model, (example,), path, dynamo=True,
                              dynamic_shapes=({0: batch},), input_names=["inputs"],
                              output_names=["outputs"], verbose=False)
        except Exception as error:  # the exporter's own words are the result
            raise ExportUnsupported(f"torch.onnx.export failed: {type(error).__name__}: "
                                    f"{_first_line(error)}") from error
        return path

    def _aotinductor(self, folder: str, inputs: np.ndarray) -> str:
        """torch.export with a dynamic batch, compiled ahead of time by Inductor into a .pt2
        package (C++ kernels built by the system's compiler: minutes for a large model)."""
        import torch
        from torch._inductor import aoti_compile_and_package

        self.impl.prepare(training=False)
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        example = self._tensor(inputs).contiguous()
        try:
            program = torch.export.export(self.impl.model, (example,),
                                          dynamic_shapes=({0: batch},))
            return str(aoti_compile_and_package(
                program, package_path=os.path.join(folder, "model.pt2")))
        except Exception as error:  # the exporter's or the compiler's own words
            raise ExportUnsupported(f"AOTInductor failed: {type(error).__name__}: "
                                    f"{_first_line(error)}") from error

    def open_exported(self, portable_format: str, path: str, threads: int
                      ) -> tuple[Predict, str] | None:
        """AOTInductor's package, run by PyTorch's loader with the cell's threads (the
        compiled kernels' OpenMP threads); the other formats run in portable runtimes."""
        if portable_format != "aotinductor":
            return None
        import torch
        from torch._inductor import aoti_load_package

        torch.set_num_threads(threads)
        package = aoti_load_package(path)

        def predict(inputs: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                outputs = package(torch.from_numpy(np.ascontiguousarray(inputs)))
            if isinstance(outputs, list | tuple):
                outputs = outputs[0]
            return np.asarray(outputs.numpy())
        return predict, f"torch {torch.__version__} (AOTInductor)"

    def portable_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return inputs if inputs.dtype != np.float64 else inputs.astype(np.float32)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


DEPLOYMENT = TorchDeployment

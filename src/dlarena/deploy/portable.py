"""Run an exported model in a portable runtime: ONNX Runtime, OpenVINO (reading the same
ONNX export) or the LiteRT interpreter. A format only its own framework runs (AOTInductor's
compiled package) is opened by that framework's `Deployment.open_exported` instead.

Each gets the cell's intra-op thread count, as every framework does; none is a framework,
so none is named in frameworks/.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlarena.contract import Predict

RUNTIME_DISTRIBUTIONS = {"onnx": "onnxruntime", "openvino": "openvino",
                         "litert": "ai-edge-litert"}
# Formats only one framework's programs can take, and why.
ONLY_FROM = {"aotinductor": "AOTInductor compiles PyTorch programs only"}
# The file a runtime reads, where it is not its own format: OpenVINO reads the ONNX export.
EXPORTED_AS = {"openvino": "onnx"}


def runtime_version(portable_format: str) -> str:
    from importlib.metadata import version

    distribution = RUNTIME_DISTRIBUTIONS[portable_format]
    return f"{distribution} {version(distribution)}"


def open_model(portable_format: str, path: str, threads: int) -> Predict:
    if portable_format == "onnx":
        return _onnx(path, threads)
    if portable_format == "openvino":
        return _openvino(path, threads)
    if portable_format == "litert":
        return _litert(path, threads)
    raise ValueError(f"unknown portable format {portable_format!r}")


def _onnx(path: str, threads: int) -> Predict:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def predict(inputs: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {name: inputs})[0])
    return predict


def _openvino(path: str, threads: int) -> Predict:
    import openvino

    core = openvino.Core()
    compiled = core.compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                "INFERENCE_PRECISION_HINT": "f32"})

    def predict(inputs: np.ndarray) -> np.ndarray:
        return np.asarray(compiled([inputs])[compiled.output(0)])
    return predict


def _litert(path: str, threads: int) -> Predict:
    from ai_edge_litert.interpreter import Interpreter

    # One interpreter per batch shape: resizing re-plans the graph, outside any timing.
    interpreters: dict[tuple[int, ...], Any] = {}

    def interpreter_for(shape: tuple[int, ...]) -> Any:
        if shape not in interpreters:
            interpreter = Interpreter(model_path=path, num_threads=threads)
            index = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(index, list(shape), strict=False)
            interpreter.allocate_tensors()
            interpreters[shape] = interpreter
        return interpreters[shape]

    def predict(inputs: np.ndarray) -> np.ndarray:
        interpreter = interpreter_for(inputs.shape)
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], inputs.astype(detail["dtype"], copy=False))
        interpreter.invoke()
        return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    return predict

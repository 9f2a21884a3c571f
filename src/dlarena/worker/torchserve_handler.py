"""The handler TorchServe's Python backend runs for a `serve-torchserve` cell
(deploy/torchserve.py): the cell's model built as dlarena's own server builds it
(`serving_predict`), one `.npy` request body in, the outputs as a `.npy` body out.

TorchServe imports the model folder's `handler.py`, which re-exports `handle`; it calls
`handle(None, context)` once at load (the model is built then), then `handle(requests,
context)` with a batch of requests (one each: the model has no batching configured).
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np

from dlarena.cell import CellSpec
from dlarena.contract import Predict
from dlarena.deploy.torchserve import CELL_FILE

_model: Predict | None = None


def _build(model_folder: str) -> Predict:
    from dlarena.worker.main import serving_predict

    with open(os.path.join(model_folder, CELL_FILE)) as file:
        cell = CellSpec.from_dict(json.load(file))
    return serving_predict(cell, lambda *_: None)


def _body(request: dict[str, Any]) -> bytes:
    body = request.get("body")
    found = request.get("data") if body is None else body
    if found is None:
        raise ValueError("a request without a body")
    return bytes(found)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[bytes] | None:
    global _model
    if _model is None:
        _model = _build(context.system_properties["model_dir"])
    if data is None:
        return None
    return [_npy(_model(np.load(io.BytesIO(_body(request)), allow_pickle=False)))
            for request in data]

"""Build the user's model from its SPEC, in the process that runs it (a worker, or the
describing child): load the `.keras` file, or import the file or module and call the function.

A function may take `batch_size` (the cell's); it returns a Keras model, or (for PyTorch)
the module and its example inputs.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from dlarena.workloads._user.spec import ModelError


def build(source: dict[str, Any], *, batch_size: int | None = None) -> Any:
    """What SPEC gives: a loaded Keras model, or the function's return value."""
    if source["kind"] == "keras-file":
        import keras

        try:
            return keras.saving.load_model(source["location"], compile=True)
        except Exception as error:  # a zip that is no Keras model, a newer format...
            raise ModelError(f"not a Keras model file: {type(error).__name__}: "
                             f"{_first_line(error)}") from None
    function = getattr(module(source), source["function"], None)
    if not callable(function):
        raise ModelError(f"{source['location']} defines no function {source['function']}")
    arguments = {}
    if batch_size is not None and "batch_size" in inspect.signature(function).parameters:
        arguments["batch_size"] = batch_size
    try:
        return function(**arguments)
    except Exception as error:
        raise ModelError(f"{source['function']}() raised {type(error).__name__}: "
                         f"{_first_line(error)}") from None


def module(source: dict[str, Any]) -> ModuleType:
    """The file (its folder on the path, for its own imports) or the module, imported."""
    if source["kind"] == "module":
        if source.get("search_path") and source["search_path"] not in sys.path:
            sys.path.insert(0, source["search_path"])
        try:
            return importlib.import_module(source["location"])
        except ImportError as error:
            raise ModelError(f"cannot import {source['location']}: {error}") from None
    path = Path(source["location"])
    sys.path.insert(0, str(path.parent))
    name = f"dlarena_user_model_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"{path} is not a Python file")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except Exception as error:
        raise ModelError(f"importing {path.name} raised {type(error).__name__}: "
                         f"{_first_line(error)}") from None
    return loaded


def module_sha256(source: dict[str, Any]) -> str | None:
    """The hash of the file a module was imported from (a file SPEC's is known already)."""
    if source["kind"] != "module":
        return source.get("sha256")
    found = getattr(sys.modules.get(source["location"]), "__file__", None)
    return None if found is None else hashlib.sha256(Path(found).read_bytes()).hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"

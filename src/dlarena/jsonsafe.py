"""JSON that every reader can parse: a number that is not finite is written as null.

Python writes NaN and infinities as the bare words NaN and Infinity, which no JSON parser but
Python's accepts; a report or a stored record must not hold them. Where a non-finite number
would be a mistake rather than "no value", the writer passes ``allow_nan=False`` to `json`
itself and refuses instead. The standard library only: the worker side may use it.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every float that is not finite replaced by None, at any depth (tuples
    become lists, as `json` writes them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(element) for key, element in value.items()}
    if isinstance(value, list | tuple):
        return [finite(element) for element in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps` with NaN and infinities as null (`options` as `json.dumps` takes them)."""
    return json.dumps(finite(value), allow_nan=False, **options)

"""The shape of a bundle, checked field by field before anything is written.

A bundle comes from another machine and may come from anyone, so nothing in it is believed:
every field has a type, a range and, for names, the set this dlarena knows; every number is
finite; text and nesting are bounded. The first field that is wrong is named by its path
(``cells[3].process: 1180591620717411303424 is not a whole number in 0..99999``).

Written by hand rather than with jsonschema: the checks are few, the messages name the field
the way a user reads the bundle, and the registry's names come from the caller (the store
does not import the registry).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dlarena.cell import DTYPES, PROTOCOL_VERSION, STATUSES

MAX_BYTES = 64 * 2**20  # a bundle of a long run is a few MB
MAX_DEPTH = 32  # the deepest real field (a same-model check's finding) is 7 levels down
MAX_TEXT = 2**20  # characters in one string (a worker's stderr tail is far shorter)
MAX_PROCESSES = 100_000
INT64 = 2**63


class SchemaError(ValueError):
    """The first field of a bundle that is not what this version writes, named by its path."""


@dataclass(frozen=True)
class Names:
    """The names a bundle may use: this dlarena's registry, given by the caller."""

    workloads: frozenset[str]
    modes: Mapping[str, frozenset[str]]  # framework -> its execution modes
    scenarios: frozenset[str]
    sizes: frozenset[str]


Check = Callable[[Any, str], None]


def _fail(path: str, problem: str) -> SchemaError:
    return SchemaError(f"{path or 'the document'}: {problem}")


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def text(*, pattern: str | None = None, max_length: int = MAX_TEXT) -> Check:
    compiled = re.compile(pattern) if pattern else None

    def check(value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise _fail(path, f"{shown(value)} is not text")
        if len(value) > max_length:
            raise _fail(path, f"text of {len(value)} characters, more than {max_length}")
        if compiled is not None and not compiled.fullmatch(value):
            raise _fail(path, f"{shown(value)} is not of the form {pattern}")
    return check


def timestamp(value: Any, path: str) -> None:
    text(max_length=64)(value, path)
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _fail(path, f"{shown(value)} is not an ISO 8601 time") from None


def one_of(names: frozenset[str] | Callable[[], frozenset[str]], what: str) -> Check:
    def check(value: Any, path: str) -> None:
        known = names() if callable(names) else names
        if not isinstance(value, str) or value not in known:
            raise _fail(path, f"{shown(value)} is not a {what} this dlarena knows "
                              f"({', '.join(sorted(known))})")
    return check


def integer(low: int, high: int) -> Check:
    def check(value: Any, path: str) -> None:
        # bool is an int in Python; `true` is not a number in a bundle.
        if type(value) is not int or not low <= value <= high:
            raise _fail(path, f"{shown(value)} is not a whole number in {low}..{high}")
    return check


def number(*, low: float = -math.inf, high: float = math.inf, above: bool = False) -> Check:
    """A finite number in [low, high] ((low, high] where `above`)."""
    def check(value: Any, path: str) -> None:
        if type(value) not in (int, float) or not math.isfinite(value) \
                or not low <= value <= high or (above and value == low):
            bound = (f" above {low}" if above else "" if (low, high) == (-math.inf, math.inf)
                     else f" in {low}..{high}")
            raise _fail(path, f"{shown(value)} is not a finite number{bound}")
    return check


def boolean(value: Any, path: str) -> None:
    if type(value) is not bool:
        raise _fail(path, f"{shown(value)} is not true or false")


def anything(value: Any, path: str) -> None:
    """Any JSON value (`check_limits` has bounded it already)."""


def optional(check: Check) -> Check:
    def checked(value: Any, path: str) -> None:
        if value is not None:
            check(value, path)
    return checked


def list_of(item: Check, *, min_items: int = 0) -> Check:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, f"{shown(value)} is not a list")
        if len(value) < min_items:
            raise _fail(path, f"fewer than {min_items} item(s)")
        for index, element in enumerate(value):
            item(element, f"{path}[{index}]")
    return check


def pair(first: Check, second: Check) -> Check:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(path, f"{shown(value)} is not a pair")
        first(value[0], f"{path}[0]")
        second(value[1], f"{path}[1]")
    return check


def mapping(value_check: Check, *, key: Check | None = None) -> Check:
    """An object of any keys (text, checked by `key`) and values of one kind."""
    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, f"{shown(value)} is not an object")
        for name, element in value.items():
            if key is not None:
                key(name, f"{path} key")
            value_check(element, f"{path}.{name}")
    return check


def record(required: Mapping[str, Check], optional_fields: Mapping[str, Check] | None = None,
           *, others: bool = False) -> Check:
    """An object with these fields; `others`: further fields are allowed (any JSON)."""
    known = {**(optional_fields or {}), **required}

    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, f"{shown(value)} is not an object")
        missing = [name for name in required if name not in value]
        if missing:
            raise _fail(path, f"lacks {', '.join(missing)}")
        if not others:
            unknown = sorted(set(value) - set(known))
            if unknown:
                raise _fail(path, f"unknown field(s) {', '.join(map(shown, unknown))}")
        for name, field_check in known.items():
            if name in value:
                field_check(value[name], f"{path}.{name}" if path else name)
    return check


def check_limits(document: Any) -> None:
    """Bounds on every value, whatever its field: nesting, text, whole and real numbers.
    Iterative, so that a deep document cannot exhaust Python's stack here."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SchemaError(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, element in value.items():
                if len(key) > MAX_TEXT:
                    raise SchemaError(f"a field name of {len(key)} characters")
                stack.append((element, depth + 1))
        elif isinstance(value, list):
            stack.extend((element, depth + 1) for element in value)
        elif isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise SchemaError(f"a text of {len(value)} characters, more than {MAX_TEXT}")
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if not -INT64 <= value < INT64:
                raise SchemaError(f"the number {shown(value)} is out of the 64-bit range")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise SchemaError(f"the number {value!r} is not finite")
        else:
            raise SchemaError(f"a value of type {type(value).__name__}")


# -- the bundle ----------------------------------------------------------------------------

_NAME = r"[A-Za-z0-9_.:/@+-]{1,200}"
_HEX = r"[0-9a-f]{16,64}"
_count = integer(0, INT64 - 1)
_positive_seconds = number(low=0.0, above=True)


def _cell_spec(names: Names) -> Check:
    def framework_and_mode(value: Any, path: str) -> None:
        one_of(frozenset(names.modes), "framework")(value["framework"], f"{path}.framework")
        one_of(names.modes[value["framework"]], f"mode of {value['framework']}")(
            value["mode"], f"{path}.mode")

    fields = record({
        "workload": one_of(names.workloads, "workload"),
        "framework": text(), "mode": text(),
        "scenario": one_of(names.scenarios, "scenario"),
        "size": one_of(names.sizes, "size"),
        "device": one_of(frozenset({"cpu", "gpu"}), "device"),
        "batch_size": integer(1, 2**31),
        "precision": one_of(frozenset(DTYPES), "precision"),
        "threads": record({"intra_op": integer(1, 65536), "inter_op": integer(1, 65536)}),
        "measure": record(
            {"min_window_seconds": number(low=0.0, high=86400.0, above=True),
             "windows": integer(1, 10**6), "max_warmup_windows": integer(0, 10**6)},
            {"settle_tolerance": number(low=0.0, high=1e6), "settle_windows": integer(1, 10**6),
             "start_steps": integer(1, INT64 - 1)}),
        "seed": integer(-INT64, INT64 - 1),
        "timeout_seconds": number(low=0.0, high=10**9, above=True),
        "options": mapping(anything, key=text(pattern=_NAME)),
    })

    def check(value: Any, path: str) -> None:
        fields(value, path)
        framework_and_mode(value, path)
    return record({"protocol": integer(PROTOCOL_VERSION, PROTOCOL_VERSION),
                   "cell": check})


def _details() -> Check:
    return record({}, {
        "steps_per_window": integer(1, INT64 - 1), "warmup_capped": boolean,
        "clock_resolution": number(low=0.0), "manifest": mapping(anything, key=text()),
        "throughput_metric": text(pattern=_NAME), "pid": _count,
        "scenario_details": mapping(anything, key=text()),
    }, others=True)


def _cell(names: Names) -> Check:
    return record({
        "cell_key": text(pattern=_HEX), "process": integer(0, MAX_PROCESSES - 1),
        "spec": _cell_spec(names), "status": one_of(frozenset(STATUSES), "status"),
        "started_utc": timestamp, "wall_seconds": number(low=0.0), "interpreter": text(),
        "windows": record({
            "warmup": list_of(pair(integer(1, INT64 - 1), number(low=0.0))),
            "measure": list_of(pair(integer(1, INT64 - 1), _positive_seconds))}),
        "samples": mapping(list_of(number()), key=text(pattern=_NAME)),
    }, {
        "error": optional(text()), "framework_version": optional(text(max_length=200)),
        "device_name": optional(text(max_length=500)), "stderr_tail": text(),
        "details": _details(),
    })


def _parity(names: Names) -> Check:
    framework = one_of(frozenset(names.modes), "framework")
    mode = optional(text(pattern=_NAME))
    finding = record({"what": text(), "where": text(), "error": number(low=0.0),
                      "expected": _positive_seconds, "reduction_length": _count})
    result = record({
        "workload": one_of(names.workloads, "workload"), "size": one_of(names.sizes, "size"),
        "first": framework, "second": framework,
        "checks": list_of(record({"name": text(), "passed": boolean, "detail": text()})),
    }, {
        "error": optional(text()), "first_mode": mode, "second_mode": mode,
        "precision": one_of(frozenset(DTYPES), "precision"),
        "audits": list_of(record({"label": text(), "precision": one_of(frozenset(DTYPES),
                                                                         "precision"),
                                  "findings": list_of(finding, min_items=1)})),
    })
    return record({
        "version_key": text(pattern=_HEX), "workload": one_of(names.workloads, "workload"),
        "first": framework, "second": framework, "result": result,
    }, {"passed": boolean, "created_utc": timestamp, "first_mode": mode, "second_mode": mode})


def _environment() -> Check:
    """The fields of the fingerprint that reports and `compare` read; others may follow."""
    number_by_name = mapping(optional(number()), key=text())
    return record({}, {
        "hostname": text(max_length=255), "cpu_model": optional(text(max_length=500)),
        "cpu_microarchitecture": optional(text(max_length=200)),
        "cpus_available": optional(integer(1, 2**20)), "cpus_total": optional(integer(1, 2**20)),
        "memory_bytes": optional(_count), "gpus": list_of(text(max_length=500)),
        "gpu_identity": list_of(mapping(anything, key=text())),
        "os": text(max_length=500), "python": text(max_length=100), "device": text(),
        "matmul_peak_gflops": optional(number(low=0.0)), "matmul_peaks_gflops": number_by_name,
        "physical_ceiling_gflops": optional(number(low=0.0, above=True)),
        "physical_ceiling_basis": text(), "framework_versions": mapping(optional(text())),
        "threads": mapping(integer(1, 65536)), "dlarena_version": text(max_length=100),
        "git_sha": optional(text(max_length=100)), "created_utc": timestamp,
        "cpu": mapping(anything, key=text()), "definitions": optional(mapping(anything)),
        "stopping": optional(mapping(anything)),
        "frameworks_not_runnable": mapping(text(), key=text()),
    }, others=True)


def bundle(names: Names) -> Check:
    """The whole document, below its format and version (checked first, for their message)."""
    return record({
        "format": text(), "version": integer(0, INT64 - 1),
        "run": record({"identity": text(pattern=_HEX), "plan_key": text(max_length=1000),
                       "created_utc": timestamp, "command": text(),
                       "environment": _environment()}),
        "cells": list_of(_cell(names)),
        "parity": list_of(_parity(names)),
    }, {"exported_by": optional(text(max_length=200)), "exported_utc": optional(timestamp)})

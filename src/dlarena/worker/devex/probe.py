"""The debugger probe: does a breakpoint in the model's forward stop, and what does it see?

`breakpoint()` and every Python debugger stop through `sys.settrace`; so does this probe. It
watches for the code object the implementation names as its forward pass
(`Implementation.forward_code`) and, each time a frame of it starts, reads the frame's first
argument after `self` as a debugger's `p` would: concrete when the framework turns it into
numbers (`Runtime.to_numpy`), symbolic when it cannot (a graph being traced). A compiler that
runs its own code instead of the Python function never starts that frame: the probe sees
nothing, as a breakpoint there would never stop.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import CodeType, FrameType
from typing import Any

CONCRETE = "concrete"
SYMBOLIC = "symbolic"


@dataclass(frozen=True)
class ProbeResult:
    steps: int
    stops: int  # frames of the forward that started while the steps ran
    concrete_stops: int  # ... whose input could be read as numbers
    value_type: str | None  # the type of the input the first stop saw
    seen: str | None  # CONCRETE or SYMBOLIC at the first stop; None: never stopped
    sample: str | None  # the first stop's value as a debugger would print it (shortened)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _first_argument(frame: FrameType) -> Any:
    code = frame.f_code
    names = code.co_varnames[:code.co_argcount]
    names = names[1:] if names and names[0] == "self" else names
    return frame.f_locals.get(names[0]) if names else None


def probe(forward: CodeType, steps: Callable[[], None], count: int,
          to_numpy: Callable[[Any], Any]) -> ProbeResult:
    """Run `steps` `count` times under a trace function that stops in `forward`."""
    seen: list[tuple[str, str, str]] = []
    stops = concrete = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal stops, concrete
        if event != "call" or frame.f_code is not forward:
            return
        stops += 1
        value = _first_argument(frame)
        try:
            numbers = to_numpy(value)
            kind = CONCRETE if getattr(numbers, "dtype", None) is not None else SYMBOLIC
        except Exception:  # a traced graph's tensor has no value yet
            kind = SYMBOLIC
        concrete += kind == CONCRETE
        if not seen:
            seen.append((type(value).__name__, kind, _shorten(repr(value))))

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        for _ in range(count):
            steps()
    finally:
        sys.settrace(previous)
    return ProbeResult(steps=count, stops=stops, concrete_stops=concrete,
                       value_type=seen[0][0] if seen else None,
                       seen=seen[0][1] if seen else None,
                       sample=seen[0][2] if seen else None)


def _shorten(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"

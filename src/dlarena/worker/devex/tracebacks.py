"""What a raised error shows its user: where it points, and how much stands around it.

"User code" is what the person writing the model wrote or owns: the implementation file
(here its scratch copy) and dlarena's own files, whose framework base classes hold the
training step a user would otherwise write. Everything else in a traceback (the framework,
the standard library) is internals. Frames are read as Python gives them, after whatever
filtering the framework applies to its own tracebacks: that is what a user sees.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorReading:
    error_type: str
    message_chars: int
    message_lines: int
    traceback_lines: int  # the whole printed report, chained exceptions included
    frames: int  # frames of the raised exception's traceback below the harness
    innermost_user_frame: str | None  # "path:line function", path relative to `user_roots`
    at_mistake: bool  # the innermost user frame is the line that holds the mistake
    names_mistake_line: bool  # the printed report mentions the mistake's line anywhere
    internal_frames_below: int  # framework frames between the innermost user frame and the raise
    internal_lines_below: int  # printed traceback lines those frames take

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _relative(path: str, roots: dict[str, str]) -> str | None:
    """`path` shown under its root's label, or None when it is not user code."""
    real = os.path.realpath(path)
    for root, label in roots.items():
        if real == root or real.startswith(root + os.sep):
            return label + os.path.relpath(real, root).replace(os.sep, "/")
    return None


def read_error(error: BaseException, *, user_roots: dict[str, str], harness: str,
               mistake_file: str, mistake_line: int) -> ErrorReading:
    """`user_roots`: real folder or file path -> label; frames in `harness` (the file that
    called the code under test) and above are the measurement's, not the user's."""
    roots = {os.path.realpath(root): label for root, label in user_roots.items()}
    summary = traceback.extract_tb(error.__traceback__)
    harness_real = os.path.realpath(harness)
    start = max((i + 1 for i, frame in enumerate(summary)
                 if os.path.realpath(frame.filename) == harness_real), default=0)
    frames = list(summary)[start:]
    user = [i for i, frame in enumerate(frames) if _relative(frame.filename, roots) is not None]
    innermost = frames[user[-1]] if user else None
    below = frames[user[-1] + 1:] if user else frames
    printed = "".join(traceback.format_exception(error))
    message = str(error)
    location = f'"{mistake_file}", line {mistake_line}'
    mistake_real = os.path.realpath(mistake_file)
    return ErrorReading(
        error_type=type(error).__name__,
        message_chars=len(message),
        message_lines=len(message.splitlines()) or 1,
        traceback_lines=len(printed.splitlines()),
        frames=len(frames),
        innermost_user_frame=(
            f"{_relative(innermost.filename, roots)}:{innermost.lineno} {innermost.name}"
            if innermost is not None else None),
        at_mistake=(innermost is not None and innermost.lineno == mistake_line
                    and os.path.realpath(innermost.filename) == mistake_real),
        names_mistake_line=location in printed or any(
            os.path.realpath(f.filename) == mistake_real and f.lineno == mistake_line
            for f in summary),
        internal_frames_below=len(below),
        internal_lines_below=len("".join(traceback.format_list(below)).splitlines()),
    )

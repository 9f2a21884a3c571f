"""`python -m dlarena.workloads._user.describe`: build the user's model once, describe it.

Run by the coordinator (`spec.describe`) so that it never imports a framework: reads
{"source", "vocabulary"} on stdin, writes one JSON line, {"description": …} or {"error": …},
on the original stdout; whatever the framework prints goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from typing import Any

from dlarena.workloads._user import source as model_source
from dlarena.workloads._user.spec import ModelError, Source


def describe(given: Source, vocabulary: int | None) -> dict[str, Any]:
    """The description `spec.UserModel` is made from; a ModelError says what is wrong."""
    built = model_source.build(asdict(given))
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(built, keras.Model):
        from dlarena.workloads._user import keras_layers

        facts = keras_layers.describe(built, vocabulary=vocabulary)
    elif "torch" in sys.modules and _torch_built(built):
        from dlarena.workloads._user import torch_modules

        facts = torch_modules.describe(built)
    else:
        raise ModelError(f"{given.spec} gave {type(built).__name__}, not a Keras model, nor a "
                         "PyTorch module with its example inputs (module, inputs)")
    source = {**asdict(given), "sha256": model_source.module_sha256(asdict(given))}
    return {"name": given.name, "source": source, **facts}


def _torch_built(built: Any) -> bool:
    import torch

    return (isinstance(built, tuple) and len(built) == 2
            and isinstance(built[0], torch.nn.Module)) or isinstance(built, torch.nn.Module)


def main() -> int:
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    request = json.loads(sys.stdin.readline())
    try:
        answer: dict[str, Any] = {"description": describe(Source(**request["source"]),
                                                          request.get("vocabulary"))}
    except ModelError as error:
        answer = {"error": str(error)}
    except Exception as error:  # the model's own failure, said in one line
        lines = str(error).strip().splitlines() or ["(no message)"]
        answer = {"error": f"{type(error).__name__}: {lines[0]}"}
    channel.write(json.dumps(answer) + "\n")
    channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

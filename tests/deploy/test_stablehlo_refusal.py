"""A runtime refusing a program written in newer StableHLO is the cell's `unsupported`
outcome, saying both versions; every other load error still fails the cell."""

from __future__ import annotations

import numpy as np
import pytest

from dlarena.contract import ExportUnsupported
from dlarena.frameworks.jax.deploy import refusing_newer_stablehlo, stablehlo_refusal

# TensorFlow 2.21 loading the SavedModel Keras 3 wrote on JAX 0.10.2 (shortened).
REFUSAL = (
    "InvalidArgumentError: Graph execution error:\n\nDetected at node XlaCallModule\n"
    "Cannot deserialize computation: UNKNOWN: math.py:290:11: error: unregistered operation "
    "'vhlo.composite_v2' found in dialect ('vhlo') that does not allow unknown operations\n"
    "    return jax.lax.erf(x)\nnote: in bytecode version 6 produced by: StableHLO_v1.15.0\n"
    "<unknown>:0: error: failed to deserialize portable artifact using StableHLO_v1.13.7\n")


def test_the_refusal_names_both_versions_and_the_unknown_operation() -> None:
    reason = stablehlo_refusal(REFUSAL)
    assert reason is not None
    assert "up to 1.13.7" in reason and "StableHLO 1.15.0" in reason
    assert "vhlo.composite_v2" in reason


@pytest.mark.parametrize("message", [
    "InvalidArgumentError: Incompatible shapes: [2,3] vs. [2,4]",
    "unregistered operation 'vhlo.composite_v2'",  # without the version refusal
    "",
])
def test_other_errors_are_not_refusals(message: str) -> None:
    assert stablehlo_refusal(message) is None


def test_a_refusal_at_the_first_call_becomes_unsupported() -> None:
    def refuses(inputs: np.ndarray) -> np.ndarray:
        raise RuntimeError(REFUSAL)

    with pytest.raises(ExportUnsupported, match=r"reads StableHLO up to 1\.13\.7"):
        refusing_newer_stablehlo(refuses)(np.zeros(2))


def test_other_errors_and_outputs_pass_through() -> None:
    def breaks(inputs: np.ndarray) -> np.ndarray:
        raise ValueError("a broken file")

    with pytest.raises(ValueError, match="a broken file"):
        refusing_newer_stablehlo(breaks)(np.zeros(2))
    assert refusing_newer_stablehlo(lambda x: x + 1)(np.zeros(2)).tolist() == [1.0, 1.0]

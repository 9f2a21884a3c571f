"""Worker side of a parity check: the evidence one implementation gives, saved as .npz.

Everything starts from the workload's canonical initial weights and the same seeded batches,
so two frameworks' files can be compared array by array. The implementation runs in the
cell's mode, so a compiled mode is checked through its compiled passes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from dlarena import registry
from dlarena.cell import TIMED_PRECISION, CellSpec
from dlarena.contract import SGD_OPTION, Implementation, Runtime, Weights

PROBE_BATCH = 8
# The check runs in float64. In float32, deep BatchNorm nets at initialisation (ResNet-50,
# MobileNetV2: gradients up to ~200, batch statistics over a few values in the last stages)
# amplify rounding until PyTorch disagrees with *its own* float64 result by 2e-3 on gradients
# and 11% on the loss after five SGD steps, while torch and Keras in float64 agree to 1e-13.
# float64 separates "a different function" from "float32 rounding"; the timed cells run in
# float32, which the precision audit below checks against this float64 result.
PROBE_PRECISION = "fp64"
TRAIN_STEPS = 5
# Moves the loss well beyond float32 noise in five steps without diverging (0.1 did, on cnn).
# float32(0.01), not 0.01: MXNet's sgd_update takes the learning rate as a float32 operator
# attribute, which parted its float64 MobileNetV2 weights from PyTorch's by 5e-3 after five
# steps (2e-10 per unit of gradient at the first). Every framework holds this value exactly.
SGD_LEARNING_RATE = 0.009999999776482582
# Evidence of the timed configuration (float32, the cell's mode, threads, layout and device)
# on the first probe batch: layer outputs and gradients, compared with this worker's own
# float64 ones (compare.audit_precision).
AUDIT_PREFIX = "audit"


def probe(
    cell: CellSpec,
    runtime: Runtime,
    build: Callable[[CellSpec], Implementation],
    artifacts: str,
) -> None:
    workload = registry.workloads()[cell.workload]
    initial = workload.initial_weights(cell.size, cell.seed)
    rng = np.random.default_rng(cell.seed + 11)
    batches = [workload.synthetic_batch(rng, PROBE_BATCH, cell.size) for _ in range(TRAIN_STEPS)]
    arrays: dict[str, np.ndarray] = {}

    impl = build(cell)
    arrays["trainable_parameters"] = np.array(impl.trainable_parameter_count())
    for name, value in impl.get_weights().items():
        arrays[f"weights/{name}"] = value
    _outputs_and_gradients(impl, impl.to_device(*batches[0]), initial, "", arrays)

    sgd_cell = dataclasses.replace(cell, options={**cell.options, SGD_OPTION: SGD_LEARNING_RATE})
    for optimizer, trainer in (("adam", build(cell)), ("sgd", build(sgd_cell))):
        trainer.prepare(training=True)
        arrays[f"losses/{optimizer}"] = np.array([
            runtime.scalar(trainer.train_step(trainer.to_device(*batch))) for batch in batches
        ])
    # Weights and BatchNorm statistics after the SGD steps: catches a wrong momentum too.
    for name, value in trainer.get_weights().items():
        arrays[f"after_sgd/{name}"] = value

    timed = build(dataclasses.replace(cell, precision=TIMED_PRECISION))
    _outputs_and_gradients(timed, timed.to_device(*batches[0]), initial, f"{AUDIT_PREFIX}/",
                           arrays)
    with open(artifacts, "wb") as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]


def _outputs_and_gradients(impl: Implementation, batch: object, initial: Weights, prefix: str,
                           arrays: dict[str, np.ndarray]) -> None:
    """Layer outputs in inference and training mode, then the loss and every gradient."""
    for mode, training in (("eval", False), ("train", True)):
        impl.prepare(training=training)
        for layer, value in impl.activations(batch).items():
            arrays[f"{prefix}{mode}/{layer}"] = _float64(value)
        impl.set_weights(initial)  # a training-mode forward moves BatchNorm statistics
    loss, gradients = impl.gradients(batch)
    arrays[f"{prefix}loss"] = np.array(loss)
    for name, value in gradients.items():
        arrays[f"{prefix}grad/{name}"] = _float64(value)


def _float64(array: np.ndarray) -> np.ndarray:
    """Stored as float64 whatever a layer computed in: NumPy cannot save bfloat16."""
    return np.asarray(array, dtype=np.float64)

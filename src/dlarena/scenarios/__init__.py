"""What a cell can measure: every scenario, one entry each in SCENARIOS.

A scenario owns its name, its headline metric (which must be in `analysis/metrics.METRICS`),
how a request expands into its cells (`Scenario.options`, `cells`, `timeout_factor`) and the
path of the worker-side function that runs it, so the plan names no scenario and the
coordinator reads this table without importing worker code.
"""

from __future__ import annotations

from dlarena.cell import CellSpec
from dlarena.contract.pipeline import JPEG, RECORDS
from dlarena.scenarios import pipelines
from dlarena.scenarios.base import CellShape, Scenario
from dlarena.scenarios.convergence import Convergence
from dlarena.scenarios.data_parallel import DataParallel
from dlarena.scenarios.pipelines import FedByPipeline

__all__ = ["SCENARIOS", "CellShape", "Scenario", "swept_options"]

# Where the worker-side functions live (imported in the worker only).
RUNS = "dlarena.worker.runners"

_SAVES = {"weights": "weights only; loading needs the model's code",
          "model": "architecture and weights in one file",
          "program": "a traced program that runs without the model's code"}
_PORTABLE = {"onnx": "ONNX Runtime", "openvino": "OpenVINO (from the ONNX export)",
             "aotinductor": "PyTorch's AOTInductor loader (a compiled .pt2 package)",
             "litert": "the LiteRT interpreter"}

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario for scenario in (
        Scenario("train", "samples/s of full optimizer steps (forward, backward, update)",
                 "train_throughput", f"{RUNS}:run_train", pre_imported=True),
        Scenario("infer", "samples/s of forward passes in inference mode, no gradients",
                 "infer_throughput", f"{RUNS}:run_infer", pre_imported=True),
        Scenario("latency", "per-request latency of batch-1 inference after warm-up",
                 "latency_seconds", f"{RUNS}:run_latency", batch_size=1, windowed=False,
                 pre_imported=True),
        Scenario("startup", "import, build, first training step: time to a first result",
                 "time_to_first_result_seconds", f"{RUNS}:run_startup", windowed=False),
        Convergence("convergence", "train N epochs on a real dataset: accuracy, time, memory",
                    "final_val_accuracy", f"{RUNS}:run_convergence", windowed=False),
        Scenario("devex", "ease of development: code size, planted mistakes' tracebacks, "
                 "whether a breakpoint in the forward pass stops", None, f"{RUNS}:run_devex",
                 windowed=False),
        *(Scenario(f"save-{kind}", f"save the {what}, load it in a fresh process up to the "
                   "first prediction; outputs must equal the original's",
                   "load_seconds", f"{RUNS}:run_save", windowed=False)
          for kind, what in _SAVES.items()),
        *(Scenario(f"export-{fmt}", f"export to {fmt}, check its outputs, run it in {runtime}: "
                   "throughput beside the framework's, batch-1 latency",
                   "portable_infer_throughput", f"{RUNS}:run_export")
          for fmt, runtime in _PORTABLE.items()),
        Scenario("serve", "the model behind the same small HTTP server on 127.0.0.1: closed "
                 "loop at concurrency 1, 4, 16, open-loop Poisson arrivals",
                 "serve_latency_seconds", f"{RUNS}:run_serve", batch_size=1, windowed=False),
        Scenario("serve-torchserve", "the serve cell's model behind TorchServe (PyTorch's "
                 "model server: a Java front end, a Python backend) on 127.0.0.1, under the "
                 "same load", "serve_latency_seconds", f"{RUNS}:run_torchserve", batch_size=1,
                 windowed=False),
        FedByPipeline("dataload", "images/s of the framework's input pipeline alone, from "
                      "JPEG files or record shards: decode, crop, flip, normalise, batch",
                      "load_throughput", f"{RUNS}:run_dataload",
                      sweep={pipelines.WORKERS_OPTION: pipelines.LOADER_WORKERS,
                             pipelines.FORMAT_OPTION: (JPEG, RECORDS)}),
        FedByPipeline("train-from-files", "samples/s of training steps fed by the input "
                      "pipeline, against the train scenario's (fed from memory): input-bound "
                      f"below {pipelines.INPUT_BOUND_RATIO:g}x",
                      "train_from_files_throughput", f"{RUNS}:run_train_from_files",
                      sweep={pipelines.WORKERS_OPTION: pipelines.LOADER_WORKERS}),
        DataParallel("train-ddp", "samples/s of one model trained by N processes "
                     "(data-parallel, global batch), and the same-model check of the ranks' "
                     "SGD steps",
                     "train_throughput", f"{RUNS}:run_train_ddp",
                     before_build=f"{RUNS}:join_ranks"),
    )
}


def pre_imported() -> frozenset[str]:
    """The scenarios whose workers may be forked from a pre-imported fork server."""
    return frozenset(name for name, scenario in SCENARIOS.items() if scenario.pre_imported)


def swept_options(spec: CellSpec) -> str:
    """The cell's values of its scenario's swept options ("workers=2 format=jpeg"),
    empty for scenarios without a sweep: cells differing here are not the same measurement."""
    scenario = SCENARIOS.get(spec.scenario)
    if scenario is None:
        return ""
    # The option's last word is its name here: "loader_workers" -> "workers".
    return " ".join(f"{name.rsplit('_', 1)[-1]}={spec.options[name]}" for name in scenario.sweep
                    if name in spec.options)

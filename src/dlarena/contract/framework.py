"""What the coordinator knows of a framework without importing it: one `INFO` per framework.

Everything framework-specific that the engine needs (modes, how threads are set, which
compiler caches to isolate, log silencing, install hint, plot colour) is declared here by
the framework's own folder, so no other module names a framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FrameworkInfo:
    """Facts the coordinator needs without importing the framework."""

    name: str
    description: str
    # Distributions that provide the framework, checked in order (tensorflow-cpu provides
    # the same `tensorflow` module as tensorflow).
    distributions: tuple[str, ...]
    # What `pip install` needs on this kind of machine.
    pip_requirement: str
    # Execution modes; the first is the framework's idiomatic default for training.
    modes: tuple[str, ...]
    # The mode that runs op by op (the baseline a compiled mode must repay); None if none.
    eager_mode: str | None
    # Measured by the suites that compare "the default set" (`make run`).
    in_default_set: bool = False
    # Environment variables the framework reads for intra-op / inter-op thread counts, set
    # for its workers beside the BLAS/OpenMP ones every worker gets.
    intra_op_variables: tuple[str, ...] = ()
    inter_op_variables: tuple[str, ...] = ()
    # Compiler-cache variables -> a folder name inside the worker's scratch folder, so every
    # worker compiles from nothing, as a first run does.
    cache_variables: Mapping[str, str] = field(default_factory=dict)
    # Defaults that silence start-up chatter on stderr (kept if the user set them).
    quiet_variables: Mapping[str, str] = field(default_factory=dict)
    # Plot colour (a hex string); None: the plot picks one.
    colour: str | None = None
    # A test double is listed but never chosen by a rule.
    test_double: bool = False
    # "module:Class" implementing every workload (the fake does); None = one file per workload.
    generic_implementation: str | None = None
    # Its BatchNorm updates the running variance with the unbiased batch variance (x n/(n-1)),
    # not the biased one; the same-model check converts between the two exactly.
    unbiased_running_variance: bool = False
    # Distributions that must be installed beside the first of `distributions` (a Keras
    # backend: keras-jax needs jax).
    requires: tuple[str, ...] = ()
    # The implementations it runs when several frameworks share them, named for the library
    # they are written in: "keras" runs `workloads/<w>/keras.py`, built on the shared folder
    # `frameworks/_keras/` (a folder whose name starts with "_" is no framework). None: its
    # own files, `workloads/<w>/<its folder's name>.py`.
    implementation_files: str | None = None
    # Runs the implementations another framework runs (its `implementation_files` too), and
    # the front-ends suite measures that one beside it: Keras on JAX runs the Keras models
    # that `tensorflow` runs.
    implementations_of: str | None = None
    # The framework it runs on top of, when that is a framework of its own (Keras on JAX runs
    # on `jax`): the front-ends suite measures both, so reports show the front end's cost.
    runs_on: str | None = None
    # Trains one model in several processes (scenario train-ddp): its Runtime joins a group
    # (`join_data_parallel`) and its models wrap themselves (`Implementation.data_parallel`).
    data_parallel: bool = False
    # Why its data-parallel ranks listen on every interface, where they cannot be told to
    # listen on loopback only: its train-ddp cells then run in a private network namespace
    # (isolation/netns.py), whose only interface is loopback. None: they listen on 127.0.0.1.
    listens_on_every_interface: str | None = None
    # Its own virtual environment, a folder beside dlarena's source checkout (".venv-mxnet"),
    # for a framework that cannot share the main one (an older NumPy): its workers run that
    # environment's Python without a --python flag. None: the coordinator's interpreter.
    own_environment: str | None = None
    # The framework it is an identical twin of: the same folder, runtime and implementation
    # files under another name, so that an A/A control (`dlarena calibrate`) compares a
    # framework with itself through every step a real comparison takes.
    twin_of: str | None = None
    # Why no build of it runs on this kind of machine ("no wheel for Python 3.11 ...");
    # None: it runs where it is installed. Listed and shown beside published figures.
    unavailable: str | None = None

    def __post_init__(self) -> None:
        if not self.modes:
            raise ValueError(f"{self.name}: a framework needs at least one mode")
        if self.eager_mode is not None and self.eager_mode not in self.modes:
            raise ValueError(f"{self.name}: eager mode {self.eager_mode!r} is not one of "
                             f"its modes {self.modes}")

    @property
    def module(self) -> str:
        """Its folder's (and implementation files') name: a name's hyphens become
        underscores (`keras-jax` lives in `frameworks/keras_jax/`)."""
        return (self.twin_of or self.name).replace("-", "_")

    @property
    def implementation_module(self) -> str:
        """The name of the workload files it runs: `workloads/<w>/<this>.py`."""
        return self.implementation_files or self.module

    @property
    def shared_folder(self) -> str | None:
        """The folder in `frameworks/` that its shared implementations build on, if any."""
        return None if self.implementation_files is None else f"_{self.implementation_files}"

    @property
    def default_mode(self) -> str:
        return self.modes[0]

    @property
    def compiled_modes(self) -> tuple[str, ...]:
        """Every mode that is not the eager one (graphs, tracing, JIT compilers)."""
        return tuple(mode for mode in self.modes if mode != self.eager_mode)

"""The base class of every JAX implementation: a Flax Linen module, an Optax optimizer and a
pure training step, compiled whole by `jax.jit` or run op by op under `jax.disable_jit`.

The train state (parameters, BatchNorm statistics, optimizer state) is one pytree that the
step takes and returns; under `jit` its buffers are donated, so XLA updates them in place as
PyTorch's and Keras' optimizers do.

Data parallel (`data_parallel`, after the runtime joined `jax.distributed`): the state is
replicated over a mesh of every rank's device and each batch is one global array whose rows
are the ranks' shards; the same compiled step then runs SPMD, and XLA all-reduces where the
global batch meets: the loss's mean, hence the gradients, and BatchNorm's batch statistics,
which are therefore the global batch's (PyTorch's DDP and Keras on the CPU keep them per
rank).
"""

from __future__ import annotations

import inspect
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from types import CodeType
from typing import Any, NamedTuple

import numpy as np

from dlarena.contract import (
    STATE_SUFFIXES,
    BatchNormSettings,
    Implementation,
    SgdSettings,
    Weights,
    check_layout,
    stated_hyperparameters,
)
from dlarena.frameworks.jax import layouts
from dlarena.frameworks.jax.runtime import JaxRuntime, Stepped


class TrainState(NamedTuple):
    params: Any
    # Every non-trainable collection (BatchNorm's `batch_stats`); {} for most models.
    model_state: Any
    optimizer_state: Any


class JaxModel(Implementation):
    """A Linen module named after the canonical prefixes, trained by one pure step.

    `build_model()` returns a module called as `module(inputs, training=...)` that returns
    logits: class scores on the last axis, or one score per label (sigmoid).
    """

    runtime: JaxRuntime

    @abstractmethod
    def build_model(self) -> Any:
        """A `flax.linen.Module` whose submodule paths are the canonical prefixes."""

    def native_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Canonical inputs -> this implementation's layout (identity unless NHWC images)."""
        return inputs

    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        """Dense layers fed by a flattened (C, H, W) map, whose rows NHWC orders (H, W, C)."""
        return {}

    def data_layout(self) -> str:
        return "contiguous"

    def forward_code(self) -> CodeType | None:
        # The Flax module's own `__call__`, which `jax.jit` traces (Flax wraps it: unwrapped).
        code: CodeType = inspect.unwrap(type(self.module).__call__).__code__
        return code

    # -- building ------------------------------------------------------------------------

    def build(self) -> None:
        import jax
        import optax

        self.dtype = np.dtype(self.cell.dtype)
        self.settings = self.optimizer_settings()
        self.module = self.build_model()
        # Shapes only (no computation): every weight is loaded by `set_weights`.
        sample, _ = self.workload.synthetic_batch(np.random.default_rng(0), 1, self.cell.size)
        shapes = jax.eval_shape(lambda x: self.module.init(jax.random.key(0), x, training=False),
                                self._cast(self.native_inputs(sample)))
        variables = self._zeros(shapes)
        self.slots = layouts.named_slots(variables, self.flattened_dense_inputs())
        self.prefixes = layouts.layer_prefixes(self.slots)
        if isinstance(self.settings, SgdSettings):
            self.optimizer = optax.sgd(self.settings.learning_rate)
        else:
            # Optax adds eps to the bias-corrected sqrt(v), as PyTorch does (eps_root = 0).
            self.optimizer = optax.adam(self.settings.learning_rate, b1=self.settings.beta_1,
                                        b2=self.settings.beta_2, eps=self.settings.epsilon)
        params = variables["params"]
        model_state = {k: v for k, v in variables.items() if k != "params"}
        # Zeros from NumPy, committed to the device as the step's outputs are (optax.init's
        # own zeros compiled one program per weight shape, and, uncommitted, made the second
        # training step compile again).
        self.state = TrainState(params, model_state,
                                self._zeros(jax.eval_shape(self.optimizer.init, params)))
        self._training = False
        self._mesh: Any = None  # set by data_parallel
        jit = self._compile
        self._train = jit(self._train_fn, donate=True)
        self._infer = jit(self._infer_fn)
        self._gradients = jit(self._gradients_fn)
        self._activations = {training: jit(self._activations_fn(training))
                             for training in (False, True)}

    def _zeros(self, shapes: Any) -> Any:
        """Zeros of the cell's float dtype for a tree of shapes, on the device, uncompiled."""
        import jax

        device = self.runtime.jax_device

        def zeros(shape: Any) -> Any:
            dtype = self.dtype if np.issubdtype(shape.dtype, np.floating) else shape.dtype
            return jax.device_put(np.zeros(shape.shape, dtype), device)
        return jax.tree_util.tree_map(zeros, shapes)

    def _compile(self, function: Callable[..., Any], *, donate: bool = False) -> Callable[..., Any]:
        import jax

        mode = self.cell.mode
        if mode == "jit":
            return jax.jit(function, donate_argnums=(0,) if donate else ())
        if mode == "eager":
            def eager(*args: Any) -> Any:
                with jax.disable_jit():
                    return function(*args)
            return eager
        raise ValueError(f"unknown JAX mode {mode!r}")

    # -- the pure functions that are compiled --------------------------------------------

    def _loss(self, logits: Any, labels: Any) -> Any:
        import optax

        kind = self.workload.loss
        if kind == "softmax_cross_entropy":
            return optax.softmax_cross_entropy_with_integer_labels(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)).mean()
        if kind == "sigmoid_cross_entropy":
            return optax.sigmoid_binary_cross_entropy(logits.reshape(labels.shape),
                                                      labels).mean()
        raise ValueError(f"unknown loss {kind!r}")

    def _loss_and_state(self, params: Any, model_state: Any, inputs: Any,
                        labels: Any) -> tuple[Any, Any]:
        logits, updated = self.module.apply({"params": params, **model_state}, inputs,
                                            training=True, mutable=list(model_state))
        return self._loss(logits, labels), {**model_state, **updated}

    def _train_fn(self, state: TrainState, inputs: Any, labels: Any) -> Stepped:
        import jax
        import optax

        (loss, model_state), grads = jax.value_and_grad(self._loss_and_state, has_aux=True)(
            state.params, state.model_state, inputs, labels)
        updates, optimizer_state = self.optimizer.update(grads, state.optimizer_state,
                                                         state.params)
        params = optax.apply_updates(state.params, updates)
        return Stepped(loss, TrainState(params, model_state, optimizer_state))

    def _infer_fn(self, state: TrainState, inputs: Any) -> Any:
        return self.module.apply({"params": state.params, **state.model_state}, inputs,
                                 training=False)

    def _gradients_fn(self, state: TrainState, inputs: Any, labels: Any) -> tuple[Any, Any]:
        import jax

        (loss, _), grads = jax.value_and_grad(self._loss_and_state, has_aux=True)(
            state.params, state.model_state, inputs, labels)
        return loss, grads

    def _activations_fn(self, training: bool) -> Callable[[TrainState, Any], Any]:
        prefixes = self.prefixes

        def captured(module: Any, method: str) -> bool:
            return method == "__call__" and "_".join(module.path) in prefixes

        def activations(state: TrainState, inputs: Any) -> Any:
            _, variables = self.module.apply(
                {"params": state.params, **state.model_state}, inputs, training=training,
                capture_intermediates=captured, mutable=["intermediates", *state.model_state])
            return variables["intermediates"]
        return activations

    # -- the contract --------------------------------------------------------------------

    def _cast(self, array: np.ndarray) -> np.ndarray:
        if np.issubdtype(array.dtype, np.floating):
            return array.astype(self.dtype, copy=False)  # copies only to convert
        return array

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        import jax

        native = (self._cast(self.native_inputs(inputs)), self._cast(labels))
        if self._mesh is not None:  # this rank's shard of the global batch
            return tuple(self._global(array, sharded=True) for array in native)
        device = self.runtime.jax_device
        return tuple(jax.device_put(array, device) for array in native)

    def data_parallel(self) -> None:
        """Replicate the state over a mesh of every rank's device; batches become global
        arrays sharded by rows (module docstring)."""
        import jax

        self._mesh = jax.make_mesh((jax.device_count(),), ("data",),
                                   axis_types=(jax.sharding.AxisType.Auto,))
        self.state = jax.tree_util.tree_map(
            lambda leaf: self._global(np.asarray(leaf), sharded=False), self.state)

    def _global(self, local: np.ndarray, *, sharded: bool) -> Any:
        """A global array from this rank's data: its rows of the batch (`sharded`), or the
        whole value, the same on every rank."""
        import jax

        sharding: Any = jax.sharding  # partly untyped (PartitionSpec)
        spec = sharding.PartitionSpec("data") if sharded else sharding.PartitionSpec()
        make: Any = jax.make_array_from_process_local_data  # untyped
        return make(sharding.NamedSharding(self._mesh, spec), local)

    def _host(self, value: Any) -> np.ndarray:
        """A value of the state on the host; a replicated global array's local copy."""
        if self._mesh is not None:
            value = value.addressable_data(0)
        return np.asarray(value)

    def prepare(self, *, training: bool) -> None:
        self._training = training  # Linen takes `training` per call

    def train_step(self, batch: Any) -> Any:
        stepped: Stepped = self._train(self.state, *batch)
        self.state = stepped.state
        return stepped

    def infer_step(self, batch: Any) -> Any:
        return self._infer(self.state, batch[0])

    def activations(self, batch: Any) -> Weights:
        # Through the mode's wrapper: under `jit` the check sees the compiled pass. A
        # training-mode pass does not keep its BatchNorm statistics (the probe reloads).
        intermediates = self._activations[self._training](self.state, batch[0])
        return layouts.layer_outputs(intermediates, self.prefixes)

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        loss, grads = self._gradients(self.state, *batch)
        found = {}
        for name, slot in self.slots.items():
            if slot.collection == "params":
                found[name] = np.ascontiguousarray(
                    slot.to_canonical(np.asarray(layouts.read(grads, slot.path))))
        return float(loss), found

    def compilation_stats(self) -> dict[str, float]:
        log = self.runtime.compiles
        return {"compiled_graphs": float(log.programs), "compile_seconds": log.seconds}

    def hyperparameters(self) -> dict[str, Any]:
        adam = self.settings
        sgd = isinstance(adam, SgdSettings)
        normed = any(name.endswith(STATE_SUFFIXES) for name in self.slots)
        bn = self.workload.batch_norm  # what `batch_norm` below gives every layer
        settings = stated_hyperparameters(
            self.workload.loss, "optax.sgd" if sgd else "optax.adam", adam.learning_rate,
            adam=None if isinstance(adam, SgdSettings) else (adam.epsilon, adam.beta_1,
                                                             adam.beta_2),
            batch_norm=(bn.epsilon, bn.momentum) if normed else None)
        if normed:
            settings.update(batchnorm_flax_momentum=round(1.0 - bn.momentum, 10),
                            batchnorm_running_variance="biased (Flax's; PyTorch's unbiased "
                                                       "is converted by the check)")
        settings.update(self.conventions())
        settings["train_state_donated"] = self.cell.mode == "jit"
        return settings

    def conventions(self) -> dict[str, Any]:
        """Choices where Flax's defaults differ from the other frameworks' (per workload)."""
        return {}

    def trainable_parameter_count(self) -> int:
        return sum(int(np.prod(np.shape(leaf)))
                   for _, leaf in _flat(self.state.params))

    def variables(self) -> dict[str, Any]:
        """Flax's variables (`params` and every other collection), as `module.apply` takes."""
        return {"params": self.state.params, **self.state.model_state}

    def replace_variables(self, variables: dict[str, Any]) -> None:
        """Compute with other variables of the same tree (a restored checkpoint's)."""
        self.state = self.state._replace(
            params=variables["params"],
            model_state={k: v for k, v in variables.items() if k != "params"})

    def get_weights(self) -> Weights:
        variables = self.variables()
        return {name: np.ascontiguousarray(slot.to_canonical(self._host(
                    layouts.read(variables[slot.collection], slot.path))))
                for name, slot in self.slots.items()}

    def set_weights(self, weights: Weights) -> None:
        import jax

        check_layout("jax", set(self.slots), set(weights))
        device = self.runtime.jax_device
        by_collection: dict[str, dict[tuple[str, ...], Any]] = {}
        for name, slot in self.slots.items():
            native = np.ascontiguousarray(slot.from_canonical(weights[name]), dtype=self.dtype)
            by_collection.setdefault(slot.collection, {})[slot.path] = (
                jax.device_put(native, device) if self._mesh is None
                else self._global(native, sharded=False))
        self.replace_variables({
            collection: layouts.replaced(tree, by_collection.get(collection, {}))
            for collection, tree in self.variables().items()})


def _flat(tree: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _flat(value)
        else:
            yield key, value


class JaxImageModel(JaxModel):
    """Image models: canonical NCHW batches become NHWC, XLA's native convolution layout."""

    def data_layout(self) -> str:
        return "NHWC (Flax's layout)"

    def native_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(inputs.transpose(0, 2, 3, 1))  # NCHW -> NHWC


def dense_head(features: list[tuple[str, int, int]]) -> Callable[[Any], Any]:
    """Flatten, then (name, in, out) Dense layers with a ReLU after all but the last.

    Call inside a compact `__call__`; returns a function from the feature map to logits.
    """
    from flax import linen as nn

    def head(x: Any) -> Any:
        x = x.reshape(x.shape[0], -1)
        for index, (name, _, n_out) in enumerate(features):
            x = nn.Dense(n_out, name=name)(x)
            if index < len(features) - 1:
                x = nn.relu(x)
        return x
    return head


def conv(features: int, kernel: int, *, name: str, stride: int = 1, padding: int = 0,
         bias: bool = True, groups: int = 1) -> Any:
    """A convolution padded `padding` pixels on every side, as PyTorch pads.

    Flax's "SAME" pads the odd pixel after, not before, at stride 2 (as Keras does); an
    explicit symmetric padding is PyTorch's model.
    """
    from flax import linen as nn

    return nn.Conv(features, (kernel, kernel), strides=stride,
                   padding=((padding, padding), (padding, padding)), use_bias=bias,
                   feature_group_count=groups, name=name)


def batch_norm(settings: BatchNormSettings, *, training: bool, name: str) -> Any:
    """BatchNorm with the workload's epsilon and momentum in Flax's terms.

    Flax's `momentum` is the old statistic's weight (Keras' convention), 1 - PyTorch's.
    `use_fast_variance=False` computes the variance as mean((x - mean)^2), not
    mean(x^2) - mean^2, which loses digits when the mean is large.
    """
    from flax import linen as nn

    return nn.BatchNorm(use_running_average=not training, momentum=1.0 - settings.momentum,
                        epsilon=settings.epsilon, use_fast_variance=False, name=name)


def max_pool(x: Any, window: int, stride: int, padding: int = 0) -> Any:
    """Max-pooling padded symmetrically (with -inf, as PyTorch pads)."""
    from flax import linen

    nn: Any = linen  # max_pool is untyped
    return nn.max_pool(x, (window, window), strides=(stride, stride),
                       padding=((padding, padding), (padding, padding)))

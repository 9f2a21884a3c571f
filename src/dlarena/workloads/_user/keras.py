"""The user's Keras 3 model on every Keras backend (`tensorflow`, `keras-jax`, `keras-torch`).

The model is built from SPEC once per process and serialized; every build (float32 timed
cells, the float64 same-model check, its float32 audit) deserializes that config with its
float types rewritten to the cell's, so a `.keras` file saved in float32 is rebuilt in float64
layer by layer from its own config, and every build of one process has the same layer names.
dlarena's canonical weights are then loaded, as for every workload. The same-model check's
builds (scenario "check") set every dropout and noise rate to 0: random masks would differ
between backends; the timed cells keep them. Training uses the workload's stated Adam and the
loss taken from the output (softmax cross-entropy on the last axis, sigmoid for one unit),
not the model's compiled ones, which the manifest records beside them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlarena.contract import Weights, check_layout
from dlarena.frameworks._keras.model import KerasModel
from dlarena.workloads._user import keras_layers, source
from dlarena.workloads._user.spec import ModelError, UserModel

# The same-model check's cells (parity/check.py) run this scenario.
CHECK_SCENARIO = "check"
# Per process: the model's serialized config, by SPEC.
_CONFIGS: dict[str, Any] = {}


class Implementation(KerasModel):
    workload: UserModel

    def data_layout(self) -> str:
        return "the model's own (Keras layers as built)"

    def build_model(self) -> Any:
        import keras

        config = keras_layers.rewritten(self._config(), dtype=self.cell.dtype,
                                        without_dropout=self.cell.scenario == CHECK_SCENARIO)
        try:
            return keras.saving.deserialize_keras_object(config)
        except Exception as error:
            raise ModelError(f"the model cannot be rebuilt from its config ({type(error).__name__}"
                             f": {error}); custom layers need "
                             "@keras.saving.register_keras_serializable") from None

    def _config(self) -> Any:
        import keras

        spec = self.workload.source["spec"]
        if spec not in _CONFIGS:
            model = source.build(self.workload.source, batch_size=self.cell.batch_size)
            if not isinstance(model, keras.Model):
                raise ModelError(f"{spec} gave {type(model).__name__}, not a Keras model")
            config = keras.saving.serialize_keras_object(model)
            config.pop("compile_config", None)
            _CONFIGS[spec] = config
        return _CONFIGS[spec]

    def prepare(self, *, training: bool) -> None:
        self.training = training

    def _variables(self) -> dict[str, Any]:
        return keras_layers.named_variables(self.model)

    def trainable_parameter_count(self) -> int:
        return sum(int(np.prod(variable.shape)) for variable in self._variables().values()
                   if variable.trainable)

    def get_weights(self) -> Weights:
        self.steps.weights_current()
        return {name: np.ascontiguousarray(np.asarray(variable.numpy()))
                for name, variable in self._variables().items()}

    def set_weights(self, weights: Weights) -> None:
        variables = self._variables()
        check_layout(self.cell.framework, set(variables), set(weights))
        for name, variable in variables.items():
            variable.assign(np.asarray(weights[name], dtype=str(variable.dtype).removeprefix(
                "torch.")))
        self.steps.weights_written()

    def activations(self, batch: Any) -> Weights:
        self.steps.weights_current()
        return keras_layers.layer_outputs(self.model, batch[0], training=self.training,
                                          compile_step=self.steps.compile)

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        self.steps.weights_current()
        loss, computed = self.steps.gradients(*batch)
        by_variable = dict(zip(map(id, self.model.trainable_variables), computed, strict=True))
        return loss, {name: np.ascontiguousarray(np.asarray(by_variable[id(variable)]))
                      for name, variable in self._variables().items()
                      if by_variable.get(id(variable)) is not None}

    def hyperparameters(self) -> dict[str, Any]:
        facts = self.workload.facts
        noisy = facts.get("noisy_layers") or []
        return {
            **super().hyperparameters(),
            "weight_init": "dlarena canonical weights (glorot-uniform kernels), loaded",
            "model_source": facts["source"]["spec"],
            "model_sha256": facts["source"].get("sha256"),
            "model_compiled_with": facts.get("compiled") or "not compiled",
            "random_layers": (f"{', '.join(noisy)}: random in training mode here; the "
                              "same-model check runs them at rate 0") if noisy else "none",
        }

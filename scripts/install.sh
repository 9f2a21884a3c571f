#!/usr/bin/env bash
# Create the virtual environment and install dlarena with PyTorch, TensorFlow and JAX.
# CPU builds where `nvidia-smi` is absent, CUDA builds where it is present. PyTorch goes
# first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build on a CPU machine.
set -euo pipefail

venv=${1:-.venv}
python=${PYTHON:-python3}
torch_version=${TORCH_VERSION:-2.13.0}
tensorflow_version=${TENSORFLOW_VERSION:-2.21.0}
jax_version=${JAX_VERSION:-0.10.2}
flax_version=${FLAX_VERSION:-0.12.8}
optax_version=${OPTAX_VERSION:-0.2.8}
# Keras 3 (TensorFlow's own Keras) also runs on JAX and PyTorch: keras-jax needs jax.
keras_version=${KERAS_VERSION:-3.15.1}
ray_version=${RAY_VERSION:-2.60.0}

if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)

if command -v nvidia-smi >/dev/null 2>&1; then
  echo "nvidia-smi found: installing CUDA builds of torch $torch_version and tensorflow $tensorflow_version"
  "${pip[@]}" "torch==$torch_version"
  "${pip[@]}" "tensorflow[and-cuda]==$tensorflow_version"
  "${pip[@]}" "jax[cuda12]==$jax_version"
else
  echo "no nvidia-smi: installing CPU builds of torch $torch_version and tensorflow $tensorflow_version"
  "${pip[@]}" "torch==$torch_version"
  "${pip[@]}" "tensorflow-cpu==$tensorflow_version"
  "${pip[@]}" "jax[cpu]==$jax_version"
fi
# JAX's layers and optimizers (pure Python: one build for CPU and GPU).
"${pip[@]}" "flax==$flax_version" "optax==$optax_version"
"${pip[@]}" "keras==$keras_version"
# Ray for `--executor ray`: the core only, no dashboard extras.
"${pip[@]}" "ray==$ray_version"
"${pip[@]}" -e ".[dev,deploy,grain,models]"
"$venv/bin/python" -m pip check
bash scripts/install-data.sh "$venv"

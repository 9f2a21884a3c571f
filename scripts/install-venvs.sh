#!/usr/bin/env bash
# Each framework that cannot share the main environment gets its own, beside the checkout:
#   .venv-mxnet    mxnet 1.9.1 (needs NumPy < 1.24: it uses np.bool)
#   .venv-chainer  chainer 7.8.1 (a source distribution whose setup.py imports pkg_resources)
#   .venv-paddle   paddlepaddle 3.3.1 (pins opt_einsum and protobuf unlike TensorFlow and JAX)
# dlarena finds them without --python. A framework whose install fails gets a one-line
# reason in <venv>/dlarena-install-failed, shown by `dlarena list` and the paper table, and
# this script goes on with the next one (it exits 0: the framework is then "not installed
# here", never silently absent). Usage: install-venvs.sh [mxnet|chainer|paddle ...]
set -uo pipefail

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
frameworks=("$@")
[ ${#frameworks[@]} -eq 0 ] && frameworks=(mxnet chainer paddle)

install_one() {  # name -> pip commands run in .venv-name
  local venv=".venv-$1"
  local pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
  case "$1" in
    mxnet) "${pip[@]}" "mxnet==1.9.1" "numpy==1.23.5" ;;
    chainer) "${pip[@]}" "setuptools<70" wheel "numpy==1.23.5" &&
             "${pip[@]}" --no-build-isolation "chainer==7.8.1" ;;
    paddle) "${pip[@]}" "paddlepaddle==3.3.1" ;;
    *) echo "unknown framework $1 (mxnet, chainer or paddle)" >&2; return 2 ;;
  esac
}

for name in "${frameworks[@]}"; do
  venv=".venv-$name"
  if [ -f "$venv/.dlarena-installed" ]; then
    echo "$venv: installed"
    continue
  fi
  started=$(date +%s)
  echo "creating $venv with $($python --version) for $name"
  rm -rf "$venv"
  log=$(mktemp)
  if "$python" -m venv "$venv" >"$log" 2>&1 && install_one "$name" >>"$log" 2>&1 &&
     "$venv/bin/python" -m pip check >>"$log" 2>&1; then
    touch "$venv/.dlarena-installed"
    echo "$venv: installed in $(( $(date +%s) - started )) s, $(du -sh "$venv" | cut -f1)"
  else
    mkdir -p "$venv"
    reason=$(grep -E "ERROR|Error|error:" "$log" | grep -v "^WARNING" | tail -1)
    [ -n "$reason" ] || reason=$(grep -v "^WARNING" "$log" | tail -1)
    echo "pip install failed with $($python --version): ${reason:-see the install log}" \
      > "$venv/dlarena-install-failed"
    echo "$venv: NOT installed: $(cat "$venv/dlarena-install-failed")" >&2
    tail -20 "$log" >&2
  fi
  rm -f "$log"
done
exit 0

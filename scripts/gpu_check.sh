#!/usr/bin/env bash
# The GPU check of issue #10 (hieros_lab/bench/gpu_check.py): writes gpu_check.json into $OUT
# (the device tool's folder that comes back) or the current folder.
#
# Here, first: bash scripts/gpu_wheels.sh   (the packages the device machine's image lacks)
# On the device machine: run with carry [".whl"] and command `bash scripts/gpu_check.sh`.
# Without CUDA (here, CI's test): debug sizes, a check of the script that measures nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi
if [ -d .whl ] && ! "$PY" -c 'import gin, gymnasium, ale_py' 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1  # this tree's hieros_lab
exec "$PY" -m hieros_lab.bench.gpu_check --out "${OUT:-.}/gpu_check.json" "$@"

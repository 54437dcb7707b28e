#!/usr/bin/env bash
# Wheels of the packages that the device machine's image lacks (it has torch, numpy, tqdm,
# cloudpickle and typing-extensions; see the device tool's KINDS.md), for its Python 3.12 on
# x86-64, into .whl/ (git-ignored), which scripts/gpu_check.sh installs there. About 6 MB; the
# versions are the ones pyproject.toml's pins resolve to here.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl \
  gin-config==0.5.0 gymnasium==1.2.3 farama-notifications==0.0.6 ale-py==0.11.2
ls -l .whl

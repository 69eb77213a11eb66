#!/bin/sh
# Downloads the Python wheels the real-build tests and the rewrite benchmark
# install, for Debian bookworm's CPython 3.11 on x86_64, into DIR (pip on the
# host; the builds then install from DIR through scripts/wheel-index.py, so
# that no build needs PyPI). Pinned versions, dependencies included.
#   SET=ci     numpy and uv (what tests/rewrite_build.rs builds)   [default]
#   SET=bench  also scipy, pandas, scikit-learn and their dependencies
# Does nothing for a wheel already in DIR. Usage: [SET=bench] scripts/fetch-wheels.sh DIR
set -eu
dir=${1:?usage: fetch-wheels.sh DIR}
set=${SET:-ci}
mkdir -p "$dir"
reqs="numpy==2.2.6 uv==0.7.8 wheel==0.45.1"
[ "$set" = bench ] && reqs="$reqs scipy==1.15.3 pandas==2.2.3 scikit-learn==1.6.1"
# shellcheck disable=SC2086
python3 -m pip download -q --disable-pip-version-check --only-binary=:all: \
  --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any \
  -d "$dir" $reqs

#!/bin/sh
# Checks layerscope's Python findings on the real image that
# scripts/build-python-image.sh built: unpacks it with umoci, compares
# `python.environments` with Python's own importlib.metadata
# (testdata/python/oracle.py --compare), prints the pip cache and OpenBLAS
# findings with their exact sizes next to `du`/`stat` of the same files,
# and refreshes testdata/python/real-metadata.tar.gz when asked (--refresh).
# Usage: scripts/check-python-image.sh [OUT_DIR] [--refresh]
set -eu
OUT=${1:-/work/bench-data}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${LAYERSCOPE:-$HERE/target/debug/layerscope}
BUNDLE=$OUT/python-real-bundle
rm -rf "$BUNDLE"
umoci unpack --image "$OUT/python-ml-real-oci:real" "$BUNDLE" >/dev/null
ROOT=$BUNDLE/rootfs
"$BIN" analyze "oci:$OUT/python-ml-real-oci:real" --format json --no-cache > "$OUT/python-ml-real.json"
python3 "$HERE/testdata/python/oracle.py" "$ROOT" --compare "$OUT/python-ml-real.json"
echo "pip cache: layerscope $(jq '[.findings[]|select(.kind=="pip-cache")|.bytes]|add' "$OUT/python-ml-real.json"), on disk $(find "$ROOT/root/.cache/pip" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"
echo "OpenBLAS copies on disk:"
find "$ROOT" -name 'lib*openblas*.so*' -type f -printf '  %s %P\n'
jq -r '.findings[]|select(.kind=="duplicate-native-library")|"  layerscope \(.bytes) \(.message)"' "$OUT/python-ml-real.json"
if [ "${2:-}" = "--refresh" ]; then
    python3 "$HERE/testdata/python/make-real-metadata.py" "$ROOT" "$HERE/testdata/python/real-metadata.tar.gz"
fi

#!/usr/bin/env bash
# CI's install path: builds the Python wheel with maturin (`bindings = "bin"`),
# installs it in a fresh venv, runs the venv's `layerscope` on the sample
# image and checks its figures against the archive itself (read here with
# Python's tarfile), then runs the GitHub Action's script on the same wheel.
#
# The wheel is built with `--profile dev` by default, which reuses the
# dependencies `cargo test` already compiled in target/debug (only the
# layerscope crate itself is compiled again); WHEEL_PROFILE=release (or
# dist) builds the wheel a release would publish.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${WHEEL_PROFILE:-dev}"
work="$(mktemp -d "${TMPDIR:-/tmp}/layerscope-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
command -v maturin >/dev/null || python3 -m pip install -q 'maturin>=1.5,<2'
maturin build --quiet --profile "$profile" --out "$work/wheels"
wheel="$(ls "$work"/wheels/layerscope-*.whl)"
echo "wheel: $(basename "$wheel") ($(stat -c %s "$wheel") bytes)"

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --no-index "$wheel"
bin="$work/venv/bin/layerscope"
test -x "$bin"
"$bin" --version

# The text report names the image; the JSON's figures match the archive.
"$bin" analyze testdata/python-ml.tar > "$work/report.txt"
grep -q "python-ml.tar" "$work/report.txt"
"$bin" analyze testdata/python-ml.tar --format json > "$work/report.json"
python3 - "$work/report.json" testdata/python-ml.tar <<'EOF'
import json, sys, tarfile
report = json.load(open(sys.argv[1]))
with tarfile.open(sys.argv[2]) as archive:
    manifest = json.load(archive.extractfile("manifest.json"))[0]
    sizes = [archive.getmember(name).size for name in manifest["Layers"]]
assert report["schema"] == "layerscope/analysis/v1", report["schema"]
assert len(report["layers"]) == len(sizes), (len(report["layers"]), len(sizes))
got = [layer["uncompressed_bytes"] for layer in report["layers"]]
assert got == sizes, (got, sizes)
assert report["image"]["uncompressed_bytes"] == sum(sizes)
print(f"venv layerscope: {len(sizes)} layers, {sum(sizes)} uncompressed bytes, as the archive says")
EOF

# The Action's script, installing this wheel instead of PyPI's.
LAYERSCOPE_WHEEL="$wheel" INPUT_IMAGE=testdata/python-ml.tar \
  INPUT_REPORTS="$work/reports" RUNNER_TEMP="$work" bash scripts/action.sh > /dev/null
for f in layerscope.json layerscope.sarif layerscope.xml layerscope.md; do
  test -s "$work/reports/$f" || { echo "action.sh wrote no $f" >&2; exit 1; }
done
echo "wheel check passed"

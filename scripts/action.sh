#!/usr/bin/env bash
# The GitHub Action's step (action.yml): installs layerscope from PyPI into
# its own venv and runs `layerscope check` with every report written.
# Inputs come as INPUT_* variables. Locally (and in .ci/run) it is tested
# with LAYERSCOPE_WHEEL=path/to/wheel, which installs that wheel instead.
set -euo pipefail
: "${INPUT_IMAGE:?the image input is required}"
reports="${INPUT_REPORTS:-layerscope-reports}"
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/layerscope-venv"
python3 -m venv "$venv"
if [ -n "${LAYERSCOPE_WHEEL:-}" ]; then
  "$venv/bin/pip" install -q "$LAYERSCOPE_WHEEL"
elif [ -n "${INPUT_VERSION:-}" ]; then
  "$venv/bin/pip" install -q "layerscope==$INPUT_VERSION"
else
  "$venv/bin/pip" install -q layerscope
fi
mkdir -p "$reports"
args=(check "$INPUT_IMAGE"
  --output "json=$reports/layerscope.json"
  --output "sarif=$reports/layerscope.sarif"
  --output "junit=$reports/layerscope.xml"
  --output "markdown=$reports/layerscope.md")
[ -n "${INPUT_DOCKERFILE:-}" ] && args+=(--dockerfile "$INPUT_DOCKERFILE")
[ -n "${INPUT_CONFIG:-}" ] && args+=(--config "$INPUT_CONFIG")
[ -n "${INPUT_DIVE_CI:-}" ] && args+=(--dive-ci "$INPUT_DIVE_CI")
# shellcheck disable=SC2206 # the extra arguments are split as a shell would
[ -n "${INPUT_ARGS:-}" ] && args+=(${INPUT_ARGS})
set +e
"$venv/bin/layerscope" "${args[@]}"
code=$?
set -e
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "sarif=$reports/layerscope.sarif" >> "$GITHUB_OUTPUT"
  echo "exit-code=$code" >> "$GITHUB_OUTPUT"
fi
exit "$code"

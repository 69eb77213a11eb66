#!/usr/bin/env bash
# The rewrite benchmark of issue 12: builds testdata/rewrite/ml-naive (a
# tutorial-style ML Dockerfile), its hand-optimized twin ml-expert, and
# layerscope's two rewrites of the naive one (`optimize --write`, and
# `--write --apply all`), all with `buildah bud --layers` on the Debian base
# of scripts/make-debian-base.sh, the wheels served from a local index
# (scripts/fetch-wheels.sh, scripts/wheel-index.py). Prints each image's pull
# size (layers as gzip blobs: `skopeo copy` to an OCI layout, the sum of the
# layer blob sizes in its manifest) and the share of the naive -> expert
# saving that each rewrite recovers.
#
# Needs root, buildah, podman, skopeo, debootstrap and network to the Debian
# mirror and PyPI (for the wheels, once). 10-20 minutes on 2 cores.
# Usage: scripts/bench-rewrite.sh [OUT_DIR]   (default /var/tmp/layerscope-bench-rewrite)
# LAYERSCOPE=path picks the binary (default: target/release, else target/debug).
# LAYERSCOPE_BENCH_TAG=name names the images (default localhost/layerscope-bench),
# so that two checkouts benchmarking at once never build over each other's.
# Each image's OCI copy is removed once its pull size is read (the naive one
# at the end: the rewrites are made from it); KEEP_OCI=1 keeps them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/var/tmp/layerscope-bench-rewrite}
mkdir -p "$OUT"
LS=${LAYERSCOPE:-}
if [ -z "$LS" ]; then
  if [ -x "$repo/target/release/layerscope" ]; then LS=$repo/target/release/layerscope
  else (cd "$repo" && cargo build -q --bin layerscope); LS=$repo/target/debug/layerscope; fi
fi
base=$("$repo/scripts/make-debian-base.sh")
SET=bench "$repo/scripts/fetch-wheels.sh" "$OUT/wheels"
python3 "$repo/scripts/wheel-index.py" "$OUT/wheels" "$OUT/conf" > "$OUT/index.port" &
index_pid=$!
trap 'kill "$index_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$OUT/index.port" ] && break; sleep 0.1; done

naive=$repo/testdata/rewrite/ml-naive
expert=$repo/testdata/rewrite/ml-expert
TAG=${LAYERSCOPE_BENCH_TAG:-localhost/layerscope-bench}
declare -A secs pulled

build() { # NAME CONTEXT DOCKERFILE
  local start=$SECONDS
  if ! buildah bud --layers --isolation chroot \
      -v "$OUT/conf/pip.conf:/etc/pip.conf:ro" -v "$OUT/conf/uv.toml:/etc/uv/uv.toml:ro" \
      -f "$3" -t "$TAG:$1" "$2" > "$OUT/$1.log" 2>&1; then
    echo "$1: build FAILED, see $OUT/$1.log:" >&2; tail -n 8 "$OUT/$1.log" >&2
    return 1
  fi
  secs[$1]=$((SECONDS - start))
  rm -rf "$OUT/$1.oci"
  skopeo copy -q "containers-storage:$TAG:$1" "oci:$OUT/$1.oci:img"
  pulled[$1]=$(pull_bytes "$OUT/$1.oci")
  [ "$1" = naive ] || [ -n "${KEEP_OCI:-}" ] || rm -rf "$OUT/$1.oci"
}

pull_bytes() { # OCI_DIR: sum of the layer blob sizes of its one manifest
  python3 - "$1" <<'PY'
import json, sys, os
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "index.json")))
m = idx["manifests"][0]["digest"].split(":")
man = json.load(open(os.path.join(d, "blobs", m[0], m[1])))
print(sum(l["size"] for l in man["layers"]))
PY
}

build naive "$naive" "$naive/Dockerfile"
build expert "$expert" "$expert/Dockerfile"
for v in write apply-all; do
  args=(--write "$OUT/Dockerfile.$v")
  [ "$v" = apply-all ] && args+=(--apply all)
  if "$LS" optimize "oci:$OUT/naive.oci:img" --dockerfile "$naive/Dockerfile" "${args[@]}" \
      --format json -o "$OUT/optimize.$v.json" > "$OUT/Dockerfile.$v.diff" 2> "$OUT/optimize.$v.err"; then
    build "$v" "$naive" "$OUT/Dockerfile.$v" || true
  else
    echo "$v: optimize failed: $(head -c 400 "$OUT/optimize.$v.err")" >&2
  fi
done

[ -n "${KEEP_OCI:-}" ] || rm -rf "$OUT/naive.oci"
n=${pulled[naive]}; e=${pulled[expert]}
printf '\n%-12s %14s %9s %12s %10s\n' image "pull bytes" "pull MB" "build s" recovered
for v in naive expert write apply-all; do
  [ -n "${pulled[$v]:-}" ] || { printf '%-12s %14s\n' "$v" "(not built)"; continue; }
  b=${pulled[$v]}
  share=$(python3 -c "print(f'{100*($n-$b)/($n-$e):.1f} %')" 2>/dev/null || echo -)
  printf '%-12s %14s %9.1f %12s %10s\n' "$v" "$b" "$(python3 -c "print($b/1e6)")" "${secs[$v]:-?}" "$share"
done
for v in write apply-all; do
  [ -s "$OUT/optimize.$v.json" ] && python3 - "$OUT/optimize.$v.json" "$v" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
adv = r.get("advice", [])
def applied(a):
    if "applied" in a: return a["applied"]
    return a.get("automated", False) or (sys.argv[2] == "apply-all" and a.get("class") == "review")
p = sum((a.get("compressed_bytes") or 0) for a in adv if applied(a) and a.get("shrinks_image", True))
print(f"{sys.argv[2]}: {sum(map(applied, adv))} of {len(adv)} changes applied, promised {p/1e6:.1f} MB compressed")
for a in adv:
    kind = a.get("change_kind") or a.get("kind") or "?"
    print(f"   {'x' if applied(a) else ' '} {kind:<22} {(a.get('compressed_bytes') or 0)/1e6:8.1f} MB  line {a.get('line', '-')}")
PY
done
echo "outputs in $OUT"

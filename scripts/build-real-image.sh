#!/usr/bin/env bash
# Build the real multi-GB Python/ML benchmark image (issue 2 "Measure and report",
# issue 8) without a Docker daemon: debootstrap a Debian bookworm minbase with
# python3 + pip, `podman import` it, `buildah bud --layers` scripts/pyml.Dockerfile
# (one layer per instruction), then save it as a docker-archive and an
# oci-archive under $OUT (default /work/bench-data). Needs root, network to the
# Debian mirror and PyPI. Takes 10-30 minutes. Never commit its outputs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-/work/bench-data}"
MIRROR="${MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
BASE=localhost/layerscope-bookworm-py:base
IMAGE=localhost/layerscope-pyml:bench
mkdir -p "$OUT"

if ! podman image exists "$BASE"; then
  rootfs="$OUT/rootfs-bookworm"
  if [ ! -x "$rootfs/usr/bin/python3" ]; then
    rm -rf "$rootfs"
    echo "debootstrap bookworm from $MIRROR" >&2
    debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates,passwd \
      bookworm "$rootfs" "$MIRROR"
  fi
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE"
fi

buildah bud --layers --isolation chroot \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -f "$here/pyml.Dockerfile" -t "$IMAGE" "$here"

rm -f "$OUT/pyml.docker.tar" "$OUT/pyml.oci.tar"
skopeo copy "containers-storage:$IMAGE" "docker-archive:$OUT/pyml.docker.tar:layerscope-pyml:bench"
skopeo copy "containers-storage:$IMAGE" "oci-archive:$OUT/pyml.oci.tar:bench"
ls -l "$OUT"/pyml.*.tar

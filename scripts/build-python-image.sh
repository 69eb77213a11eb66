#!/bin/sh
# Builds the real Python/ML test image (numpy + scipy wheels from PyPI, apt's
# python3-numpy beside them, a pip cache left in place) on a debootstrap'ed
# Debian base with `buildah bud --layers`, and saves it as
#   $OUT/python-ml-real.tar        (docker-archive)
#   $OUT/python-ml-real-oci:real   (OCI layout, for `umoci unpack`)
# Slow (network, a few minutes) and drifting with the mirrors: run by hand,
# never in CI. Usage: scripts/build-python-image.sh [OUT_DIR]
set -eu
OUT=${1:-/work/bench-data}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$OUT/python-image-build
NUMPY=${NUMPY:-2.2.6}
SCIPY=${SCIPY:-1.15.3}
mkdir -p "$WORK"
MIRROR=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}')
[ -n "$MIRROR" ] || MIRROR=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian

if ! podman image exists localhost/layerscope-debian:bookworm; then
    if [ ! -x "$WORK/rootfs/bin/sh" ]; then
        rm -rf "$WORK/rootfs"
        debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR"
    fi
    tar -C "$WORK/rootfs" -c . | podman import - localhost/layerscope-debian:bookworm
fi

CTX=$WORK/context
rm -rf "$CTX" && mkdir -p "$CTX/wheels"
cp "$HERE/python-image/Dockerfile" "$CTX/Dockerfile"
# Debian bookworm has Python 3.11: fetch cp311 manylinux wheels on the host.
pip download --no-deps --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$CTX/wheels" "numpy==$NUMPY" "scipy==$SCIPY"

buildah bud --layers --isolation chroot --build-arg "NUMPY=$NUMPY" --build-arg "SCIPY=$SCIPY" -t localhost/python-ml-real:1 "$CTX"
rm -f "$OUT/python-ml-real.tar"
skopeo copy containers-storage:localhost/python-ml-real:1 "docker-archive:$OUT/python-ml-real.tar:python-ml-real:1"
rm -rf "$OUT/python-ml-real-oci"
skopeo copy containers-storage:localhost/python-ml-real:1 "oci:$OUT/python-ml-real-oci:real"
echo "built $OUT/python-ml-real.tar and $OUT/python-ml-real-oci:real"

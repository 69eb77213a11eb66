#!/bin/sh
# Builds the apt + pip test image (scripts/apt-pip-image/Dockerfile) on a
# debootstrap'ed Debian base with `buildah bud --layers`, and saves it as
#   $OUT/apt-pip.tar        (docker-archive)
#   $OUT/apt-pip-oci:real   (OCI layout, for `umoci unpack`)
# Slow (network, several minutes) and drifting with the mirrors: run by
# hand; tests/packages.rs uses it when LAYERSCOPE_APT_PIP_IMAGE points at
# the archive. Usage: scripts/build-apt-pip-image.sh [OUT_DIR]
set -eu
OUT=${1:-/work/bench-data}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$OUT/apt-pip-build
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
cp "$HERE/apt-pip-image/Dockerfile" "$CTX/Dockerfile"
# Debian bookworm has Python 3.11: fetch cp311 manylinux wheels on the host.
pip download --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$CTX/wheels" numpy==2.2.6 scipy==1.15.3 scikit-learn==1.6.1

buildah bud --layers --isolation chroot -v "$CTX/wheels:/wheels:ro" -t localhost/layerscope-apt-pip:1 "$CTX"
rm -f "$OUT/apt-pip.tar"
skopeo copy containers-storage:localhost/layerscope-apt-pip:1 "docker-archive:$OUT/apt-pip.tar:apt-pip:1"
rm -rf "$OUT/apt-pip-oci"
skopeo copy containers-storage:localhost/layerscope-apt-pip:1 "oci:$OUT/apt-pip-oci:real"
echo "built $OUT/apt-pip.tar and $OUT/apt-pip-oci:real"

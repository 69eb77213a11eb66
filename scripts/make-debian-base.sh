#!/bin/sh
# Builds the Debian bookworm base image of the real-build tests
# (tests/rewrite_build.rs) and of scripts/bench-rewrite.sh in containers-storage:
# `debootstrap --variant=minbase` from the machine's own apt mirror, then
# `podman import`. Like the official debian:bookworm image it has no apt lists,
# apt's docker-clean hook (no .deb left in /var/cache/apt/archives) and
# CMD ["bash"]. It also holds the empty mount points the builds bind over
# (see scripts/wheel-env.sh and ../shared/BUILDING-IMAGES.md): /etc/pip.conf,
# /etc/pip-host-ca.crt and /etc/uv/uv.toml, so that buildah leaves no 0-byte
# files in the first RUN's layer.
#
# Idempotent: does nothing when the image exists and was made by this version
# of the script (a label holds the script's hash). Needs root and the mirror.
# Takes about 1-3 minutes. Usage: scripts/make-debian-base.sh [IMAGE]
set -eu
image=${1:-localhost/layerscope-bookworm:min}
sha=$(sha256sum "$0" | cut -c1-16)
if podman image exists "$image" \
  && [ "$(podman image inspect --format '{{index .Labels "layerscope.script"}}' "$image")" = "$sha" ]; then
  echo "$image"
  exit 0
fi
mirror=${MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
root=$(mktemp -d /var/tmp/layerscope-bookworm.XXXXXX)
trap 'rm -rf "$root"' EXIT
start=$(date +%s)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin
mkdir -p "$root/etc/uv"
: > "$root/etc/pip.conf"
: > "$root/etc/pip-host-ca.crt"
: > "$root/etc/uv/uv.toml"
tar --numeric-owner -C "$root" -c . \
  | podman import -q --change 'CMD ["bash"]' --change "LABEL layerscope.script=$sha" - "$image" >/dev/null
echo "made $image in $(( $(date +%s) - start )) s" >&2
echo "$image"

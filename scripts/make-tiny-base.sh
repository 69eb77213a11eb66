#!/bin/sh
# Builds the tiny offline base image of the Dockerfile tests:
# busybox-static with its applets, a `app` user, and a fake `pip` that
# "installs" `name==version` lines of requirements files into
# /usr/lib/python3/site-packages (a package dir with a native blob and a
# dist-info) and, unless `--no-cache-dir` or PIP_NO_CACHE_DIR is given, leaves
# a pip HTTP cache in /root/.cache/pip like the real one; and a fake
# `apt-get` whose `update` leaves package lists in /var/lib/apt/lists and
# whose `install` fails without them.
#
# Usage: scripts/make-tiny-base.sh [IMAGE]   (default localhost/layerscope-df-base:1)
set -eu
image=${1:-localhost/layerscope-df-base:1}
busybox=$(command -v busybox)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/usr/local/bin" "$root/tmp" "$root/etc" "$root/root" "$root/home/app"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' > "$root/etc/group"
cat > "$root/usr/local/bin/pip" <<'PIP'
#!/bin/sh
# A fake pip for offline tests (see scripts/make-tiny-base.sh).
set -eu
[ "${1:-}" = install ] || { echo "fake pip: only 'install' is supported" >&2; exit 2; }
shift
cache=yes
[ -n "${PIP_NO_CACHE_DIR:-}" ] && cache=no
reqs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-cache-dir) cache=no ;;
    -r|--requirement) reqs="$reqs $2"; shift ;;
    *) echo "fake pip: unsupported argument $1" >&2; exit 2 ;;
  esac
  shift
done
site=/usr/lib/python3/site-packages
mkdir -p "$site"
for r in $reqs; do
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    name=${line%%==*}; version=${line#*==}
    mkdir -p "$site/$name" "$site/$name-$version.dist-info"
    echo "__version__ = '$version'" > "$site/$name/__init__.py"
    head -c 200000 /bin/busybox > "$site/$name/_native.so"
    printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "$name" "$version" > "$site/$name-$version.dist-info/METADATA"
    echo pip > "$site/$name-$version.dist-info/INSTALLER"
    printf '%s/__init__.py,,\n%s/_native.so,,\n' "$name" "$name" > "$site/$name-$version.dist-info/RECORD"
    if [ "$cache" = yes ]; then
      mkdir -p "/root/.cache/pip/http-v2/$name"
      tail -c 300000 /bin/busybox > "/root/.cache/pip/http-v2/$name/body"
    fi
  done < "$r"
done
PIP
chmod 755 "$root/usr/local/bin/pip"
cat > "$root/usr/local/bin/apt-get" <<'APT'
#!/bin/sh
# A fake apt-get for offline tests (see scripts/make-tiny-base.sh): `update`
# writes package lists, `install` puts a 100 000-byte /usr/bin/NAME per
# package, and fails without lists as the real one does.
set -eu
cmd=${1:-}; shift || true
case "$cmd" in
  update)
    mkdir -p /var/lib/apt/lists
    head -c 250000 /bin/busybox > /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages ;;
  install)
    # Like the real one: nothing to install from without lists.
    ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || {
      echo "E: Unable to locate package (no lists: run apt-get update)" >&2; exit 100; }
    mkdir -p /usr/bin
    for p in "$@"; do
      case "$p" in -*) continue ;; esac
      tail -c 100000 /bin/busybox > "/usr/bin/$p"
      chmod 755 "/usr/bin/$p"
    done ;;
  clean) rm -rf /var/cache/apt/archives ;;
  *) echo "fake apt-get: unsupported command $cmd" >&2; exit 2 ;;
esac
APT
chmod 755 "$root/usr/local/bin/apt-get"
# The label lets the tests rebuild the base only when this script changes.
tar --numeric-owner -C "$root" -c . \
  | podman import -q --change "LABEL layerscope.script=${LAYERSCOPE_SCRIPT_SHA:-unknown}" - "$image" >/dev/null
echo "$image"

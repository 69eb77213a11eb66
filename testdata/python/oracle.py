"""The independent check of layerscope's Python detection.

Usage: python3 oracle.py ROOTFS [--compare REPORT.json]
Prints JSON: {"/env/path": [{"name", "version", "bytes", "files"}, ...]} for
every site-packages/dist-packages directory under ROOTFS, as Python's own
importlib.metadata sees it. Bytes and files count each listed path once,
when it is a regular file (lstat) inside ROOTFS. Distributions whose
metadata lists no files (files() is None) get bytes/files null.
"""
import importlib.metadata as md
import json
import os
import stat
import sys

root = os.path.abspath(sys.argv[1])
envs = {}
for dirpath, dirnames, _ in os.walk(root):
    for d in list(dirnames):
        if d in ("site-packages", "dist-packages"):
            envs[os.path.join(dirpath, d)] = None
            dirnames.remove(d)  # like layerscope: the first such component is the environment
out = {}
for env in sorted(envs):
    rel = "/" + os.path.relpath(env, root)
    dists = []
    for dist in md.distributions(path=[env]):
        files = dist.files
        total = count = None
        if files is not None:
            seen = set()
            total = count = 0
            for f in files:
                p = os.path.normpath(str(dist.locate_file(f)))
                if p in seen or not (p + "/").startswith(root + "/"):
                    continue
                seen.add(p)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
                    count += 1
        dists.append({"name": dist.metadata["Name"], "version": dist.version, "bytes": total, "files": count})
    dists.sort(key=lambda d: (d["name"].lower(), d["version"]))
    out[rel] = dists
if len(sys.argv) < 4 or sys.argv[2] != "--compare":
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()
    sys.exit(0)

# --compare: layerscope's `python.environments` must say the same. For
# distributions importlib lists no files for (Debian's egg-info), only the
# name and version are compared.
with open(sys.argv[3]) as f:
    report = json.load(f)
ours = {e["path"]: e for e in report["python"]["environments"]}
errors = []
if set(ours) != set(out):
    errors.append(f"environments differ: layerscope {sorted(ours)} importlib {sorted(out)}")


def norm(name):
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


checked = 0
for env, dists in out.items():
    mine = {(norm(d["name"]), d["version"]): d for d in ours.get(env, {}).get("distributions", [])}
    theirs = {(norm(d["name"]), d["version"]): d for d in dists}
    if set(mine) != set(theirs):
        errors.append(f"{env}: distributions differ: layerscope {sorted(mine)} importlib {sorted(theirs)}")
    for key, d in theirs.items():
        m = mine.get(key)
        if m is None or d["bytes"] is None:
            continue
        checked += 1
        if (m["bytes"], m["files"]) != (d["bytes"], d["files"]):
            errors.append(f"{env} {key}: layerscope {m['bytes']} bytes in {m['files']} files, importlib {d['bytes']} in {d['files']}")
for e in errors:
    print(e, file=sys.stderr)
print(f"{len(out)} environments, {sum(len(d) for d in out.values())} distributions, {checked} byte totals compared, {len(errors)} differences")
sys.exit(1 if errors else 0)

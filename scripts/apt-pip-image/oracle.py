"""Independent figures for layerscope's apt + pip test, run inside the image
(`podman run --rm -v oracle.py:/oracle.py:ro IMAGE python3 /oracle.py`):
dpkg's packages with their Installed-Size (`dpkg-query`) and the bytes of
their files found with lstat (each inode once, hard links and symlinks
resolved as the kernel does), and every Python distribution of the system
and of /opt/venv as `importlib.metadata` sees it, sized from its RECORD or,
for Debian's egg-info without one, from `dpkg -L` of its package and the
`-lib` split plus the bytecode py3compile wrote. Prints JSON."""
import glob, importlib.metadata as md, json, os, subprocess, sys

def lst(path):
    try:
        return os.lstat(path)
    except OSError:
        return None

out = {"packages": {}, "dpkg_bytes": 0, "distributions": []}
q = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Installed-Size}\n"],
                   capture_output=True, text=True, check=True).stdout
seen = set()   # (dev, inode) of counted files, first package by name wins
owner = {}     # realpath -> package
for line in sorted(q.splitlines()):
    name, size = line.split(" ", 1)
    files = subprocess.run(["dpkg-query", "-L", name], capture_output=True, text=True).stdout.splitlines()
    total = 0
    for f in files:
        if f in ("/.", ""):
            continue
        d = os.path.realpath(os.path.dirname(f))
        real = os.path.join(d, os.path.basename(f))
        st = lst(real)
        owner.setdefault(real, name)
        if st is None or not os.path.isfile(real) or os.path.islink(real):
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        total += st.st_size
    out["packages"][name] = {"installed_size": int(size or 0) * 1024, "bytes": total}
    out["dpkg_bytes"] += total

def pkg_files(name):
    r = subprocess.run(["dpkg-query", "-L", name], capture_output=True, text=True)
    return r.stdout.splitlines() if r.returncode == 0 else []

for path in ["/usr/lib/python3/dist-packages"] + glob.glob("/opt/venv/lib/python3*/site-packages"):
    for dist in md.distributions(path=[path]):
        name, version = dist.metadata["Name"], dist.version
        files = dist.files
        if files is not None:
            size, paths = 0, set()
            for f in files:
                p = os.path.realpath(dist.locate_file(f))
                if p in paths or not os.path.isfile(p):
                    continue
                paths.add(p)
                size += os.path.getsize(p)
            out["distributions"].append({"env": path, "name": name, "version": version,
                                         "bytes": size, "from": "RECORD"})
            continue
        meta = os.path.realpath(str(dist._path))
        pkg = owner.get(meta)
        if pkg is None:
            out["distributions"].append({"env": path, "name": name, "version": version,
                                         "bytes": None, "from": "none"})
            continue
        pkgs = [pkg] + ([pkg + "-lib"] if (pkg + "-lib") in out["packages"] else [])
        paths = set()
        for p in pkgs:
            for f in pkg_files(p):
                real = os.path.join(os.path.realpath(os.path.dirname(f)), os.path.basename(f))
                if os.path.isfile(real) and not os.path.islink(real):
                    paths.add(real)
                    if real.endswith(".py"):
                        d, b = os.path.split(real)
                        paths.update(glob.glob(os.path.join(d, "__pycache__", b[:-3] + ".*.pyc")))
        size = sum(os.path.getsize(p) for p in paths)
        out["distributions"].append({"env": path, "name": name, "version": version,
                                     "bytes": size, "from": "dpkg", "packages": pkgs})
json.dump(out, sys.stdout, indent=1, sort_keys=True)

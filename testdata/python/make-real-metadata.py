"""Makes testdata/python/real-metadata.tar.gz from the real image's unpacked
filesystem (scripts/build-python-image.sh, then `umoci unpack`).

Usage: python3 make-real-metadata.py ROOTFS OUT.tar.gz

Keeps only metadata: the real METADATA/RECORD/INSTALLER of pip's numpy and
scipy, the PKG-INFO/top_level.txt of Debian's numpy, `sizes.tsv` (the sizes
of files RECORD lists without one: the .pyc pip compiled) and `cache.tsv`
(the pip cache's wheels and their sizes). tests/python.rs rebuilds the image
from it with every other file zero-filled at its real size.
"""
import csv
import io
import os
import sys
import tarfile

root, out = sys.argv[1], sys.argv[2]
site = "usr/local/lib/python3.11/dist-packages"
keep = []
sizes = []
for dist in sorted(os.listdir(os.path.join(root, site))):
    if not dist.endswith(".dist-info"):
        continue
    for name in ("METADATA", "RECORD", "INSTALLER"):
        keep.append(f"{site}/{dist}/{name}")
    with open(os.path.join(root, site, dist, "RECORD"), newline="") as f:
        for row in csv.reader(f):
            rel = os.path.normpath(os.path.join(site, row[0]))
            if row[0].endswith("/RECORD") or (len(row) > 2 and row[2]):
                continue
            p = os.path.join(root, rel)
            if os.path.isfile(p) and not os.path.islink(p):
                sizes.append(f"{rel}\t{os.path.getsize(p)}")
egg = "usr/lib/python3/dist-packages/numpy-1.24.2.egg-info"
keep += [f"{egg}/PKG-INFO", f"{egg}/top_level.txt"]
cache = []
for dirpath, _, files in os.walk(os.path.join(root, "root/.cache/pip")):
    for f in sorted(files):
        p = os.path.join(dirpath, f)
        cache.append(f"{os.path.relpath(p, root)}\t{os.path.getsize(p)}")


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


with tarfile.open(out, "w:gz", format=tarfile.GNU_FORMAT) as tar:
    for rel in keep:
        with open(os.path.join(root, rel), "rb") as f:
            add(tar, rel, f.read())
    add(tar, "sizes.tsv", ("\n".join(sorted(sizes)) + "\n").encode())
    add(tar, "cache.tsv", ("\n".join(cache) + "\n").encode())

#!/usr/bin/env python3
"""One million small files in a classic docker archive (BENCHMARKS.md):
900,000 .py files in layer 0, the first 100,000 rewritten with uid 1000 in
layer 1 (a chown). Usage: gen-million-files.py OUT_DIR -> OUT_DIR/image.docker.tar"""
import tarfile, io, json, hashlib, os
import sys
out = sys.argv[1] if len(sys.argv) > 1 else "/work/bench-data/m1"
os.makedirs(out, exist_ok=True)
def layer(path, n, off, uid=0):
    ti=tarfile.TarInfo
    with tarfile.open(path,"w",format=tarfile.GNU_FORMAT) as t:
        for i in range(off, off+n):
            data=(b"x=%d\n" % i)*((i%7)+1)
            info=ti(f"usr/lib/python3/site-packages/pkg{i//10000}/sub{(i//100)%100}/mod{i}.py")
            info.size=len(data); info.uid=uid
            t.addfile(info, io.BytesIO(data))
layer(out+"/l0.tar", 900_000, 0)
layer(out+"/l1.tar", 100_000, 0, 1000)
def sha(p):
    h=hashlib.sha256()
    with open(p,"rb") as f:
        for c in iter(lambda: f.read(1<<20), b""): h.update(c)
    return h.hexdigest()
d=[sha(out+"/l0.tar"), sha(out+"/l1.tar")]
cfg=json.dumps({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:"+x for x in d]},"history":[{"created_by":"a"},{"created_by":"b"}]}).encode()
ch=hashlib.sha256(cfg).hexdigest()
man=json.dumps([{"Config":ch+".json","RepoTags":["m1:latest"],"Layers":["0/layer.tar","1/layer.tar"]}]).encode()
with tarfile.open(out+"/image.docker.tar","w") as t:
    for name,data in [(ch+".json",cfg),("manifest.json",man)]:
        i=tarfile.TarInfo(name); i.size=len(data); t.addfile(i,io.BytesIO(data))
    t.add(out+"/l0.tar","0/layer.tar"); t.add(out+"/l1.tar","1/layer.tar")
os.remove(out+"/l0.tar"); os.remove(out+"/l1.tar")

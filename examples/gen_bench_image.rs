//! Generates a large synthetic image shaped like a Python/ML image, for the
//! benchmarks (`scripts/bench-compare.sh`, BENCHMARKS.md), streaming: memory
//! stays small whatever the size.
//!
//!     cargo run --release --example gen_bench_image -- SIZE_GB OUT_DIR
//!
//! Writes `OUT_DIR/image.docker.tar` (classic `docker save`, uncompressed
//! layers) and `OUT_DIR/oci/` (OCI image layout directory, gzip layers, tag
//! `latest`; `scripts/bench-compare.sh` feeds its layer blobs to
//! `pigz`/`rapidgzip`).
//!
//! Each layer tar is generated once and streamed: written in place into the
//! docker archive (its offset is known from a dry run that only counts), and
//! gzipped into its OCI blob at the same time. No raw layer tar is ever on
//! disk besides the archive, so the disk needed is the archive plus the gzip
//! blobs (about 1.08 + 0.39 GB per GB of SIZE).
//!
//! Layers are gzipped by `pigz -6` when it is on the PATH (set
//! `GEN_BENCH_NO_PIGZ=1` to use flate2 at level 6 instead).
//!
//! Shape, as fractions of SIZE (uncompressed content):
//! 0. base OS: 8 %, small files;
//! 1. the dominant `pip install` layer: 60 %, many small `.py` files, a
//!    few huge `.so` files, and per package a dist-info (METADATA,
//!    INSTALLER, a RECORD listing its files as pip writes it);
//! 2. wheels left in `/wheels`: 10 %, incompressible;
//! 3. `rm -rf /wheels`: a whiteout;
//! 4. `chown -R` of one package of layer 1: 15 %, same bytes, new owner;
//! 5. the application: 5 %, small files.
//!
//! About 50 000 files per GB. Contents are deterministic (seeded by path),
//! so a `chown -R` rewrites exactly the bytes of the original files.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    missing_docs
)]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use serde_json::json;
use sha2::{Digest, Sha256};

const GB: u64 = 1_000_000_000;

/// What a file's bytes look like.
#[derive(Clone, Copy)]
enum Content {
    /// Python-like text, compresses about 4x.
    Text,
    /// Shared-object-like: text, zeros and random runs, about 2x.
    Binary,
    /// Random bytes (wheels, archives).
    Random,
}

/// A deterministic content stream.
struct Gen {
    state: u64,
    left: u64,
    content: Content,
    block: usize,
}

const WORDS: [&[u8]; 32] = [
    b"def ",
    b"self",
    b"return ",
    b"import ",
    b"numpy",
    b" = ",
    b"(",
    b")",
    b":\n    ",
    b"\n",
    b"if ",
    b"else",
    b"for ",
    b" in ",
    b"range",
    b"array",
    b"dtype",
    b"None",
    b"True",
    b"value",
    b"index",
    b", ",
    b"np.",
    b"class ",
    b"__init__",
    b"    ",
    b"\"\"\"",
    b"raise ValueError",
    b"0",
    b"1",
    b"x",
    b"kwargs",
];

impl Gen {
    fn new(seed: &[u8], size: u64, content: Content) -> Gen {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in seed {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Gen {
            state: h | 1,
            left: size,
            content,
            block: 0,
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.left).min(4096) as usize;
        let out = &mut buf[..want];
        let mode = match self.content {
            Content::Text => 0,
            Content::Random => 1,
            Content::Binary => {
                self.block += 1;
                [0, 1, 2, 0, 2, 0, 1, 0][self.block % 8]
            }
        };
        match mode {
            0 => {
                let mut i = 0;
                while i < out.len() {
                    let r = self.next();
                    for k in 0..8 {
                        let w = WORDS[((r >> (k * 5)) & 31) as usize];
                        let n = w.len().min(out.len() - i);
                        out[i..i + n].copy_from_slice(&w[..n]);
                        i += n;
                        if i == out.len() {
                            break;
                        }
                    }
                }
            }
            1 => {
                for c in out.chunks_mut(8) {
                    let r = self.next().to_le_bytes();
                    c.copy_from_slice(&r[..c.len()]);
                }
            }
            _ => out.fill(0),
        }
        self.left -= want as u64;
        Ok(want)
    }
}

struct FileSpec {
    path: String,
    size: u64,
    content: Content,
    uid: u64,
    /// Exact bytes (a dist-info's RECORD, METADATA, INSTALLER), instead of
    /// generated `content`.
    data: Option<Arc<[u8]>>,
}

enum Item {
    File(FileSpec),
    Whiteout(String),
}

struct LayerSpec {
    created_by: String,
    items: Vec<Item>,
}

/// A deterministic stand-in for a RECORD's urlsafe-base64 sha256 (43
/// characters); nothing checks it against the file.
fn fake_hash(path: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut g = Gen::new(path.as_bytes(), 0, Content::Random);
    (0..43)
        .map(|_| ALPHABET[(g.next() % 64) as usize] as char)
        .collect()
}

/// Sizes that average `avg` with a realistic spread (a few KB to 10x avg).
fn small_size(r: u64, avg: u64) -> u64 {
    let spread = [1, 2, 3, 5, 8, 10, 12, 15, 20, 30, 40, 60, 90, 120, 200, 360];
    // The table averages 61.
    avg * spread[(r % 16) as usize] / 61
}

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// Small text files under `dir` totalling about `bytes`.
fn small_files(dir: &str, ext: &str, bytes: u64, avg: u64, seed: u64, uid: u64) -> Vec<FileSpec> {
    let mut next = rng(seed);
    let mut out = Vec::new();
    let mut total = 0;
    let mut i = 0u64;
    while total < bytes {
        let size = small_size(next(), avg).max(1);
        out.push(FileSpec {
            path: format!("{dir}/m{}/s{}/f{i}.{ext}", i / 400, (i / 20) % 20),
            size,
            content: Content::Text,
            uid,
            data: None,
        });
        total += size;
        i += 1;
    }
    out
}

fn spec(total: u64) -> Vec<LayerSpec> {
    let sp = "usr/local/lib/python3.11/site-packages";
    let pct = |p: u64| total * p / 100;
    // Average small-file size: ~50 000 files per GB overall.
    let avg = 8_000;

    let l0 = small_files("usr/share/base", "txt", pct(8), avg, 1, 0);

    // Layer 1: packages with .py files, a RECORD each, a few huge .so files.
    let mut l1 = Vec::new();
    let packages = 8;
    let huge = |k: u64| format!("{sp}/pkg{k}/lib/libhuge{k}.so");
    for p in 0..packages {
        let mut py = small_files(
            &format!("{sp}/pkg{p}"),
            "py",
            pct(30) / packages,
            avg,
            10 + p,
            0,
        );
        // A real dist-info: METADATA, INSTALLER, and a RECORD listing every
        // file of the package (`path,sha256=...,size`, relative to
        // site-packages) as pip writes it.
        let info = format!("{sp}/pkg{p}-1.0.dist-info");
        let mut record = String::new();
        let mut listed: Vec<(String, u64)> = py.iter().map(|f| (f.path.clone(), f.size)).collect();
        if p < 4 {
            listed.push((huge(p), pct(30) / 4));
        }
        for (path, size) in &listed {
            let rel = &path[sp.len() + 1..];
            record.push_str(&format!("{rel},sha256={},{size}\n", fake_hash(path)));
        }
        for name in ["METADATA", "INSTALLER"] {
            record.push_str(&format!("pkg{p}-1.0.dist-info/{name},,\n"));
        }
        record.push_str(&format!("pkg{p}-1.0.dist-info/RECORD,,\n"));
        l1.append(&mut py);
        let metadata = format!("Metadata-Version: 2.1\nName: pkg{p}\nVersion: 1.0\n");
        for (name, text) in [
            ("METADATA", metadata),
            ("INSTALLER", "pip\n".to_owned()),
            ("RECORD", record),
        ] {
            let data: Arc<[u8]> = text.into_bytes().into();
            l1.push(FileSpec {
                path: format!("{info}/{name}"),
                size: data.len() as u64,
                content: Content::Text,
                uid: 0,
                data: Some(data),
            });
        }
    }
    for k in 0..4 {
        l1.push(FileSpec {
            path: huge(k),
            size: pct(30) / 4,
            content: Content::Binary,
            uid: 0,
            data: None,
        });
    }

    // Layer 2: wheels, deleted by layer 3.
    let l2: Vec<FileSpec> = (0..5)
        .map(|k| FileSpec {
            path: format!("wheels/w{k}-1.0-py3-none-any.whl"),
            size: pct(10) / 5,
            content: Content::Random,
            uid: 0,
            data: None,
        })
        .collect();

    // Layer 4: chown -R of the first packages until 15 % is rewritten.
    let mut l4 = Vec::new();
    let mut rewritten = 0;
    for f in &l1 {
        if rewritten >= pct(15) {
            break;
        }
        if f.path.contains("/pkg0/") || f.path.contains("/pkg1/") || f.path.contains("/pkg2/") {
            l4.push(FileSpec {
                path: f.path.clone(),
                size: f.size,
                content: f.content,
                uid: 1000,
                data: f.data.clone(),
            });
            rewritten += f.size;
        }
    }

    let l5 = small_files("app/src", "py", pct(5), avg, 99, 1000);

    let files = |v: Vec<FileSpec>| v.into_iter().map(Item::File).collect::<Vec<_>>();
    vec![
        LayerSpec {
            created_by: "/bin/sh -c #(nop) ADD rootfs.tar /".into(),
            items: files(l0),
        },
        LayerSpec {
            created_by: "RUN pip install numpy scipy torch".into(),
            items: files(l1),
        },
        LayerSpec {
            created_by: "COPY wheels /wheels".into(),
            items: files(l2),
        },
        LayerSpec {
            created_by: "RUN rm -rf /wheels".into(),
            items: vec![Item::Whiteout("wheels".into())],
        },
        LayerSpec {
            created_by: "RUN chown -R app /usr/local/lib/python3.11".into(),
            items: files(l4),
        },
        LayerSpec {
            created_by: "COPY . /app".into(),
            items: files(l5),
        },
    ]
}

/// A writer that hashes and counts.
struct HashWrite<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Write for HashWrite<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn header(kind: tar::EntryType, size: u64, mode: u32, uid: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_mtime(1_700_000_000);
    h
}

/// `size` bytes of nothing: the contents of a dry run, which only counts.
struct Skip(u64);

impl Read for Skip {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The bytes are never looked at: leave the buffer as it is.
        let n = (buf.len() as u64).min(self.0);
        self.0 -= n;
        Ok(n as usize)
    }
}

/// A writer that only counts.
#[derive(Default)]
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes one layer tar into `out`. With `dry`, file contents are left out
/// (`Skip`) but every header, long-name record and padding is the same, so
/// the length is exact.
fn write_layer<W: Write>(spec: &LayerSpec, out: W, dry: bool) -> io::Result<W> {
    let mut b = tar::Builder::new(out);
    for item in &spec.items {
        match item {
            Item::File(f) => {
                let mut h = header(tar::EntryType::Regular, f.size, 0o644, f.uid);
                if dry {
                    b.append_data(&mut h, &f.path, Skip(f.size))?;
                } else if let Some(data) = &f.data {
                    b.append_data(&mut h, &f.path, &data[..])?;
                } else {
                    b.append_data(
                        &mut h,
                        &f.path,
                        Gen::new(f.path.as_bytes(), f.size, f.content),
                    )?;
                }
            }
            Item::Whiteout(p) => {
                let wh = match p.rsplit_once('/') {
                    Some((dir, name)) => format!("{dir}/.wh.{name}"),
                    None => format!(".wh.{p}"),
                };
                let mut h = header(tar::EntryType::Regular, 0, 0o644, 0);
                b.append_data(&mut h, wh, io::empty())?;
            }
        }
    }
    b.into_inner()
}

/// The length of a layer's tar stream, from a dry run.
fn layer_len(spec: &LayerSpec) -> io::Result<u64> {
    Ok(write_layer(spec, Count::default(), true)?.0)
}

/// A gzip compressor writing a blob file, which also hashes and counts the
/// compressed bytes: a `pigz` child when there is one, else flate2.
enum Gzip {
    Pigz {
        child: Child,
        stdin: ChildStdin,
        /// Reads pigz's output: hashes it and writes the blob.
        sink: JoinHandle<io::Result<(String, u64)>>,
    },
    Flate(Box<flate2::write::GzEncoder<HashWrite<BufWriter<File>>>>),
}

impl Gzip {
    fn new(dst: &Path, pigz_threads: usize) -> io::Result<Gzip> {
        let file = File::create(dst)?;
        // -n: no name and no time stamp, so blobs are reproducible.
        let pigz = if std::env::var_os("GEN_BENCH_NO_PIGZ").is_some() {
            Err(io::Error::other("GEN_BENCH_NO_PIGZ"))
        } else {
            Command::new("pigz")
                .args(["-6", "-n", "-c", "-p", &pigz_threads.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
        };
        match pigz {
            Ok(mut child) => {
                let stdin = child.stdin.take().unwrap();
                let mut stdout = child.stdout.take().unwrap();
                let sink = std::thread::spawn(move || {
                    let mut out = HashWrite {
                        inner: BufWriter::with_capacity(1 << 20, file),
                        hasher: Sha256::new(),
                        count: 0,
                    };
                    io::copy(&mut stdout, &mut out)?;
                    out.flush()?;
                    Ok((hex::encode(out.hasher.finalize()), out.count))
                });
                Ok(Gzip::Pigz { child, stdin, sink })
            }
            Err(_) => Ok(Gzip::Flate(Box::new(flate2::write::GzEncoder::new(
                HashWrite {
                    inner: BufWriter::with_capacity(1 << 20, file),
                    hasher: Sha256::new(),
                    count: 0,
                },
                flate2::Compression::new(6),
            )))),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Gzip::Pigz { stdin, .. } => stdin.write_all(buf),
            Gzip::Flate(e) => e.write_all(buf),
        }
    }

    /// Ends the stream; returns (blob sha256 hex, blob bytes).
    fn finish(self) -> io::Result<(String, u64)> {
        match self {
            Gzip::Pigz {
                mut child,
                stdin,
                sink,
            } => {
                drop(stdin);
                let status = child.wait()?;
                let out = sink
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("pigz reader panicked")))?;
                if !status.success() {
                    return Err(io::Error::other(format!("pigz failed: {status}")));
                }
                Ok(out)
            }
            Gzip::Flate(e) => {
                let mut out = e.finish()?;
                out.flush()?;
                Ok((hex::encode(out.hasher.finalize()), out.count))
            }
        }
    }
}

/// Where a layer's tar stream goes: written in place into the docker
/// archive at its offset, hashed for the diff id, and gzipped.
struct LayerSink<'a> {
    archive: &'a File,
    /// Archive offset of the next byte.
    offset: u64,
    buf: Vec<u8>,
    hasher: Sha256,
    count: u64,
    gzip: Gzip,
}

const SINK_BUF: usize = 1 << 20;

impl LayerSink<'_> {
    fn drain(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.archive.write_all_at(&self.buf, self.offset)?;
        self.hasher.update(&self.buf);
        self.gzip.write_all(&self.buf)?;
        self.offset += self.buf.len() as u64;
        self.count += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Returns (diff id hex, tar bytes, blob sha256 hex, blob bytes).
    fn finish(mut self) -> io::Result<(String, u64, String, u64)> {
        self.drain()?;
        let (digest, gz_size) = self.gzip.finish()?;
        Ok((
            hex::encode(self.hasher.finalize()),
            self.count,
            digest,
            gz_size,
        ))
    }
}

impl Write for LayerSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= SINK_BUF {
            self.drain()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.drain()
    }
}

/// Rounds up to whole tar blocks.
fn padded(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

/// Writes the header of a member of the outer (docker) archive at `offset`,
/// as `tar::Builder::append_data` would.
fn write_member_header(archive: &File, offset: u64, name: &str, size: u64) -> io::Result<()> {
    let mut h = header(tar::EntryType::Regular, size, 0o644, 0);
    h.set_path(name)?;
    h.set_cksum();
    archive.write_all_at(h.as_bytes(), offset)
}

fn config_json(diff_ids: &[String], layers: &[LayerSpec]) -> io::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| format!("sha256:{d}")).collect::<Vec<_>>()},
        "history": layers.iter().map(|l| json!({"created_by": l.created_by})).collect::<Vec<_>>(),
    }))?)
}

fn docker_manifest(config_hex: &str, layers: usize) -> io::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": ["bench:latest"],
        "Layers": (0..layers).map(|i| format!("{i}/layer.tar")).collect::<Vec<_>>(),
    }]))?)
}

/// The figures an analysis must report, worked out from the spec alone by
/// replaying the layers over a path map.
struct Expected {
    entries: u64,
    files: u64,
    content_bytes: u64,
    /// Bytes of files deleted by a whiteout.
    whiteout_bytes: u64,
    /// Bytes of files replaced by a later file at the same path.
    replaced_bytes: u64,
    final_files: u64,
    final_bytes: u64,
}

fn expected(layers: &[LayerSpec]) -> Expected {
    let mut fs: BTreeMap<&str, u64> = BTreeMap::new();
    let mut e = Expected {
        entries: 0,
        files: 0,
        content_bytes: 0,
        whiteout_bytes: 0,
        replaced_bytes: 0,
        final_files: 0,
        final_bytes: 0,
    };
    for l in layers {
        for item in &l.items {
            e.entries += 1;
            match item {
                Item::File(f) => {
                    e.files += 1;
                    e.content_bytes += f.size;
                    if let Some(old) = fs.insert(&f.path, f.size) {
                        e.replaced_bytes += old;
                    }
                }
                Item::Whiteout(p) => {
                    let under = format!("{p}/");
                    let gone: Vec<&str> = fs
                        .range::<&str, _>(p.as_str()..)
                        .map(|(k, _)| *k)
                        .take_while(|k| *k == p || k.starts_with(&under))
                        .collect();
                    for k in gone {
                        e.whiteout_bytes += fs.remove(k).unwrap_or(0);
                    }
                }
            }
        }
    }
    e.final_files = fs.len() as u64;
    e.final_bytes = fs.values().sum();
    e
}

/// Removes what an earlier run (or an older version of this generator) left.
fn clean(out: &Path) -> io::Result<()> {
    for dir in ["oci", "layers"] {
        let p = out.join(dir);
        if p.exists() {
            eprintln!("removing {}", p.display());
            fs::remove_dir_all(&p)?;
        }
    }
    for file in ["image.oci.tar", "image.docker.tar"] {
        let p = out.join(file);
        if p.exists() {
            eprintln!("removing {}", p.display());
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(size), Some(out)) = (args.get(1).and_then(|s| s.parse::<f64>().ok()), args.get(2))
    else {
        eprintln!("usage: gen_bench_image SIZE_GB OUT_DIR");
        std::process::exit(2);
    };
    let start = Instant::now();
    let total = (size * GB as f64) as u64;
    let out = PathBuf::from(out);
    fs::create_dir_all(&out)?;
    clean(&out)?;
    let blobs = out.join("oci/blobs/sha256");
    fs::create_dir_all(&blobs)?;
    let layers = spec(total);
    let expect = expected(&layers);
    eprintln!(
        "generating {} entries in {} layers, {} bytes of content",
        expect.entries,
        layers.len(),
        total
    );

    // Lay out the docker archive: config, N/layer.tar..., manifest.json, two
    // zero blocks, as `append_data` in that order would. The config and
    // manifest lengths do not depend on the digests in them (fixed-width hex).
    let zero = "0".repeat(64);
    let config_len = config_json(&vec![zero.clone(); layers.len()], &layers)?.len() as u64;
    let manifest_len = docker_manifest(&zero, layers.len())?.len() as u64;
    let tar_lens = layers
        .iter()
        .map(layer_len)
        .collect::<io::Result<Vec<u64>>>()?;
    let mut offsets = Vec::with_capacity(layers.len());
    let mut end = 512 + padded(config_len);
    for len in &tar_lens {
        offsets.push(end);
        end += 512 + padded(*len);
    }
    let manifest_offset = end;
    let archive_len = manifest_offset + 512 + padded(manifest_len) + 1024;
    eprintln!(
        "layer tars laid out ({archive_len} bytes of docker archive) in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    let archive_path = out.join("image.docker.tar");
    let archive = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&archive_path)?;
    // Reserve the whole archive up front: no disk-full surprise halfway, and
    // the layers, written in parallel, do not interleave on disk. Unwritten
    // ranges (padding, end blocks) read as zeros either way.
    let reserved = Command::new("fallocate")
        .arg("-l")
        .arg(archive_len.to_string())
        .arg(&archive_path)
        .stderr(Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success());
    if !reserved {
        eprintln!("fallocate failed: the docker archive is written sparse");
    }
    archive.set_len(archive_len)?;
    for (i, (&off, &len)) in offsets.iter().zip(&tar_lens).enumerate() {
        write_member_header(&archive, off, &format!("{i}/layer.tar"), len)?;
    }

    // Layers in parallel, each streamed once: into the archive, the diff-id
    // hash and gzip. pigz gets every core: the small layers finish early and
    // the dominant one (60 %) then has the machine to itself.
    let pigz_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let results: Vec<io::Result<(String, u64, String, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (archive, blobs, offset, len) = (&archive, &blobs, offsets[i], tar_lens[i]);
                s.spawn(move || {
                    let tmp = blobs.join(format!(".layer{i}.tar.gz.tmp"));
                    let sink = LayerSink {
                        archive,
                        offset: offset + 512,
                        buf: Vec::with_capacity(SINK_BUF + (64 << 10)),
                        hasher: Sha256::new(),
                        count: 0,
                        gzip: Gzip::new(&tmp, pigz_threads)?,
                    };
                    let r = write_layer(l, sink, false)?.finish()?;
                    if r.1 != len {
                        return Err(io::Error::other(format!(
                            "layer {i}: {} bytes written, {len} laid out",
                            r.1
                        )));
                    }
                    fs::rename(&tmp, blobs.join(&r.2))?;
                    eprintln!("layer {i} done at {:.1} s", start.elapsed().as_secs_f64());
                    Ok(r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("generator thread panicked")))
            })
            .collect()
    });
    let results: Vec<(String, u64, String, u64)> =
        results.into_iter().collect::<io::Result<_>>()?;

    let diff_ids: Vec<String> = results.iter().map(|r| r.0.clone()).collect();
    let config = config_json(&diff_ids, &layers)?;
    let config_hex = hex::encode(Sha256::digest(&config));

    // The rest of the docker archive.
    {
        let manifest = docker_manifest(&config_hex, layers.len())?;
        if config.len() as u64 != config_len || manifest.len() as u64 != manifest_len {
            return Err(io::Error::other("config or manifest length changed"));
        }
        write_member_header(&archive, 0, &format!("{config_hex}.json"), config_len)?;
        archive.write_all_at(&config, 512)?;
        write_member_header(&archive, manifest_offset, "manifest.json", manifest_len)?;
        archive.write_all_at(&manifest, manifest_offset + 512)?;
    }
    // The OCI layout: the layer blobs are already in place.
    {
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_hex}"), "size": config.len()},
            "layers": results.iter().map(|r| json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": format!("sha256:{}", r.2),
                "size": r.3,
            })).collect::<Vec<_>>(),
        }))?;
        let manifest_hex = hex::encode(Sha256::digest(&manifest));
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{manifest_hex}"),
                "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }],
        }))?;
        fs::write(blobs.join(&config_hex), &config)?;
        fs::write(blobs.join(&manifest_hex), &manifest)?;
        fs::write(
            out.join("oci/oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        fs::write(out.join("oci/index.json"), &index)?;
    }

    for (i, r) in results.iter().enumerate() {
        println!(
            "layer {i}: {} bytes uncompressed, {} gzip, {} entries",
            r.1,
            r.3,
            layers[i].items.len()
        );
    }
    println!(
        "docker archive {archive_len} bytes, gzip blobs {} bytes, {:.1} s",
        results.iter().map(|r| r.3).sum::<u64>(),
        start.elapsed().as_secs_f64()
    );
    let e = &expect;
    println!(
        "expected (from the spec): {} entries ({} regular files), {} content bytes; \
         shadowed {} bytes = {} deleted by whiteouts + {} rewritten in place; \
         final {} files, {} bytes",
        e.entries,
        e.files,
        e.content_bytes,
        e.whiteout_bytes + e.replaced_bytes,
        e.whiteout_bytes,
        e.replaced_bytes,
        e.final_files,
        e.final_bytes
    );
    Ok(())
}

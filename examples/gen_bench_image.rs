//! Generates a large synthetic image shaped like a Python/ML image, for the
//! benchmarks (`scripts/bench-compare.sh`, BENCHMARKS.md), streaming: memory
//! stays small whatever the size.
//!
//!     cargo run --release --example gen_bench_image -- SIZE_GB OUT_DIR
//!
//! Writes `OUT_DIR/image.docker.tar` (classic `docker save`, uncompressed
//! layers), `OUT_DIR/image.oci.tar` (OCI archive, gzip layers) and the gzip
//! blobs alone as `OUT_DIR/layers/N.tar.gz` (for `pigz`/`rapidgzip`).
//!
//! Shape, as fractions of SIZE (uncompressed content):
//! 0. base OS: 8 %, small files;
//! 1. the dominant `pip install` layer: 60 %, many small `.py` files, a
//!    `RECORD` per package, a few huge `.so` files;
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

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
}

enum Item {
    File(FileSpec),
    Whiteout(String),
}

struct LayerSpec {
    created_by: String,
    items: Vec<Item>,
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
    for p in 0..packages {
        let mut py = small_files(
            &format!("{sp}/pkg{p}"),
            "py",
            pct(30) / packages,
            avg,
            10 + p,
            0,
        );
        let record: u64 = py.len() as u64 * 80;
        l1.append(&mut py);
        l1.push(FileSpec {
            path: format!("{sp}/pkg{p}-1.0.dist-info/RECORD"),
            size: record,
            content: Content::Text,
            uid: 0,
        });
    }
    for k in 0..4 {
        l1.push(FileSpec {
            path: format!("{sp}/pkg{k}/lib/libhuge{k}.so"),
            size: pct(30) / 4,
            content: Content::Binary,
            uid: 0,
        });
    }

    // Layer 2: wheels, deleted by layer 3.
    let l2: Vec<FileSpec> = (0..5)
        .map(|k| FileSpec {
            path: format!("wheels/w{k}-1.0-py3-none-any.whl"),
            size: pct(10) / 5,
            content: Content::Random,
            uid: 0,
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

/// Writes one layer tar; returns (diff id hex, bytes).
fn write_layer(spec: &LayerSpec, path: &Path) -> io::Result<(String, u64)> {
    let out = HashWrite {
        inner: BufWriter::with_capacity(1 << 20, File::create(path)?),
        hasher: Sha256::new(),
        count: 0,
    };
    let mut b = tar::Builder::new(out);
    for item in &spec.items {
        match item {
            Item::File(f) => {
                let mut h = header(tar::EntryType::Regular, f.size, 0o644, f.uid);
                b.append_data(
                    &mut h,
                    &f.path,
                    Gen::new(f.path.as_bytes(), f.size, f.content),
                )?;
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
    let mut out = b.into_inner()?;
    out.flush()?;
    Ok((hex::encode(out.hasher.finalize()), out.count))
}

fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn gzip(src: &Path, dst: &Path) -> io::Result<()> {
    let pigz = Command::new("pigz")
        .args(["-6", "-c"])
        .arg(src)
        .stdout(File::create(dst)?)
        .stderr(Stdio::inherit())
        .status();
    match pigz {
        Ok(s) if s.success() => Ok(()),
        _ => {
            let mut e = flate2::write::GzEncoder::new(
                BufWriter::new(File::create(dst)?),
                flate2::Compression::new(6),
            );
            io::copy(&mut File::open(src)?, &mut e)?;
            e.finish()?.flush()
        }
    }
}

fn append_file(b: &mut tar::Builder<impl Write>, name: &str, path: &Path) -> io::Result<()> {
    let mut h = header(tar::EntryType::Regular, fs::metadata(path)?.len(), 0o644, 0);
    b.append_data(&mut h, name, File::open(path)?)
}

fn append_bytes(b: &mut tar::Builder<impl Write>, name: &str, data: &[u8]) -> io::Result<()> {
    let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644, 0);
    b.append_data(&mut h, name, data)
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(size), Some(out)) = (args.get(1).and_then(|s| s.parse::<f64>().ok()), args.get(2))
    else {
        eprintln!("usage: gen_bench_image SIZE_GB OUT_DIR");
        std::process::exit(2);
    };
    let total = (size * GB as f64) as u64;
    let out = PathBuf::from(out);
    let work = out.join("layers");
    fs::create_dir_all(&work)?;
    let layers = spec(total);
    let files: usize = layers.iter().map(|l| l.items.len()).sum();
    eprintln!(
        "generating {files} entries in {} layers, {} bytes of content",
        layers.len(),
        total
    );

    // Layers in parallel: tar, then gzip.
    let results: Vec<io::Result<(String, u64, String, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let work = &work;
                s.spawn(move || {
                    let raw = work.join(format!("{i}.tar"));
                    let gz = work.join(format!("{i}.tar.gz"));
                    let (diff_id, size) = write_layer(l, &raw)?;
                    gzip(&raw, &gz)?;
                    let digest = sha256_file(&gz)?;
                    let gz_size = fs::metadata(&gz)?.len();
                    Ok((diff_id, size, digest, gz_size))
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

    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": results.iter().map(|r| format!("sha256:{}", r.0)).collect::<Vec<_>>()},
        "history": layers.iter().map(|l| json!({"created_by": l.created_by})).collect::<Vec<_>>(),
    }))?;
    let config_hex = hex::encode(Sha256::digest(&config));

    // Classic docker-archive.
    {
        let mut b = tar::Builder::new(BufWriter::with_capacity(
            1 << 20,
            File::create(out.join("image.docker.tar"))?,
        ));
        let manifest = serde_json::to_vec(&json!([{
            "Config": format!("{config_hex}.json"),
            "RepoTags": ["bench:latest"],
            "Layers": (0..layers.len()).map(|i| format!("{i}/layer.tar")).collect::<Vec<_>>(),
        }]))?;
        append_bytes(&mut b, &format!("{config_hex}.json"), &config)?;
        for i in 0..layers.len() {
            append_file(
                &mut b,
                &format!("{i}/layer.tar"),
                &work.join(format!("{i}.tar")),
            )?;
        }
        append_bytes(&mut b, "manifest.json", &manifest)?;
        b.into_inner()?.flush()?;
    }
    // OCI archive with gzip layers.
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
        let mut b = tar::Builder::new(BufWriter::with_capacity(
            1 << 20,
            File::create(out.join("image.oci.tar"))?,
        ));
        append_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        append_bytes(&mut b, "index.json", &index)?;
        append_bytes(&mut b, &format!("blobs/sha256/{manifest_hex}"), &manifest)?;
        append_bytes(&mut b, &format!("blobs/sha256/{config_hex}"), &config)?;
        for (i, r) in results.iter().enumerate() {
            append_file(
                &mut b,
                &format!("blobs/sha256/{}", r.2),
                &work.join(format!("{i}.tar.gz")),
            )?;
        }
        b.into_inner()?.flush()?;
    }
    for i in 0..layers.len() {
        fs::remove_file(work.join(format!("{i}.tar")))?;
    }
    for (i, r) in results.iter().enumerate() {
        println!(
            "layer {i}: {} bytes uncompressed, {} gzip, {} entries",
            r.1,
            r.3,
            layers[i].items.len()
        );
    }
    Ok(())
}

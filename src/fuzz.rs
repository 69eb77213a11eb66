//! Bounded mutation fuzzing on stable Rust, run by `cargo test`: seed
//! inputs (valid fixtures) are mutated by a seeded PRNG (bit flips, byte
//! overwrites with edge values, truncation, splices, duplicated runs) and fed
//! to every parser of untrusted input. A parser may fail; it must not panic
//! or hang. Each target runs a fixed number of cases (a few seconds in all);
//! `LAYERSCOPE_FUZZ_CASES` raises it for a longer session, and
//! `LAYERSCOPE_FUZZ_SEED` varies the run. Every crash found becomes a named
//! regression test below.
#![allow(clippy::unwrap_used)]

use std::io::Read as _;

use crate::fixture::{self, dir, file, hardlink, layer, opaque, symlink, whiteout};
use crate::scan::{Compression, Verify, scan_layer};
use crate::source::LayerInfo;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Values that break parsers: octal and decimal edges, separators.
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\x80",
    b"77777777777",
    b"99999999999999999999",
    b"-1",
    b" ",
    b"\n",
    b"=",
    b"/",
    b"..",
    b".wh.",
    b"\x1b[2J",
    b"{",
    b"\"",
    b"0",
];

/// One mutation of `seed`.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            2 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let i = rng.below(len + 1);
                let end = (i + v.len()).min(len);
                data.splice(i..end, v.iter().copied());
            }
            3 if len > 0 => data.truncate(rng.below(len)),
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                let run = data[a..b].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, run);
            }
            5 if len > 0 => {
                // Edit inside a 512-byte tar header: its numeric fields.
                let block = rng.below(len.div_ceil(512)) * 512;
                let field = [100, 108, 116, 124, 148, 156, 345, 482, 483][rng.below(9)];
                if block + field < len {
                    data[block + field] = rng.next() as u8;
                }
            }
            _ => {
                let i = rng.below(len + 1);
                data.insert(i, rng.next() as u8);
            }
        }
    }
    data
}

fn cases(default: u32) -> u32 {
    std::env::var("LAYERSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rng(target: u64) -> Rng {
    let seed: u64 = std::env::var("LAYERSCOPE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    Rng(seed ^ target.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
}

/// Runs `f` on `n` mutations of the seeds; a panic names the case's input.
fn fuzz(target: u64, n: u32, seeds: &[Vec<u8>], f: impl Fn(&[u8])) {
    let mut rng = rng(target);
    for case in 0..n {
        let seed = &seeds[case as usize % seeds.len()];
        let input = mutate(&mut rng, seed);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&input)));
        if caught.is_err() {
            panic!(
                "target {target} case {case} panicked on input (hex): {}",
                hex::encode(&input[..input.len().min(4096)])
            );
        }
    }
}

fn seed_layer() -> fixture::Layer {
    layer(vec![
        dir("usr/lib/python3/site-packages"),
        file(
            "usr/lib/python3/site-packages/p-1.0.dist-info/RECORD",
            b"p/__init__.py,sha256=x,5\n",
        ),
        file("usr/lib/python3/site-packages/p/__init__.py", b"x = 1\n"),
        symlink("usr/bin/p", "../lib/p"),
        hardlink("usr/bin/q", "usr/lib/python3/site-packages/p/__init__.py"),
        whiteout("tmp/gone"),
        opaque("var/cache"),
        fixture::sparse(
            "s",
            1 << 30,
            vec![(0, vec![7; 600]), (1 << 29, vec![8; 10])],
        ),
        fixture::pax_file("p".repeat(200), "pax"),
        file("l".repeat(150), "gnu long name"),
    ])
}

fn scan_bytes(blob: &[u8]) {
    let info = LayerInfo {
        digest: crate::Digest::of(blob),
        diff_id: None,
        media_type: String::new(),
        blob_bytes: blob.len() as u64,
        compressed_bytes: Some(blob.len() as u64),
        created_by: None,
    };
    let _ = scan_layer(blob, &info, Verify::DiffIds);
}

/// The tar reader and the entry checks alone (what `scan_layer` runs on
/// its walker thread), reading every entry's data.
fn walk_bytes(tar: &[u8]) {
    let mut reader = crate::scan::tarwalk::TarReader::new(tar);
    let mut checks = crate::scan::entries::Checks::default();
    let mut buf = [0u8; 4096];
    while let Ok(Some(h)) = reader.next_entry() {
        let _ = checks.entry(&h);
        while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }
    let _ = checks.finish();
}

#[test]
fn fuzz_layer_tar_walk() {
    let tar = seed_layer().tar();
    fuzz(1, cases(5000), std::slice::from_ref(&tar), walk_bytes);
    // The whole scanner (threads, pipes, hashing) on fewer cases: each
    // starts threads and allocates pipe buffers.
    fuzz(11, cases(150), &[tar], scan_bytes);
}

#[test]
fn fuzz_compressed_layers() {
    let l = seed_layer();
    let seeds = vec![l.blob(Compression::Gzip), l.blob(Compression::Zstd)];
    fuzz(2, cases(150), &seeds, scan_bytes);
}

#[test]
fn fuzz_cache_decoding() {
    let blob = seed_layer().blob(Compression::Gzip);
    let info = LayerInfo {
        digest: crate::Digest::of(&blob),
        diff_id: None,
        media_type: String::new(),
        blob_bytes: blob.len() as u64,
        compressed_bytes: Some(blob.len() as u64),
        created_by: None,
    };
    let index = scan_layer(blob.as_slice(), &info, Verify::DiffIds).unwrap();
    let encoded = crate::scan::cache::encode(&index).unwrap();
    // The body decompressed too, so mutations reach MessagePack decoding.
    let packed = rmp_serde::to_vec(&index).unwrap();
    fuzz(3, cases(2000), &[encoded], |b| {
        let _ = crate::scan::cache::decode(b);
    });
    fuzz(4, cases(3000), &[packed], |b| {
        let _ = rmp_serde::from_slice::<crate::scan::LayerIndex>(b);
    });
}

#[test]
fn fuzz_elf_scanner() {
    // A real ELF when the test runs on Linux (the test binary itself),
    // trimmed to its first 64 KiB, where the headers are.
    let mut seed = Vec::new();
    if let Ok(f) = std::fs::File::open("/proc/self/exe") {
        let _ = f.take(64 << 10).read_to_end(&mut seed);
    }
    if seed.len() < 64 {
        seed = b"\x7fELF\x02\x01\x01".to_vec();
        seed.resize(4096, 0);
    }
    fuzz(5, cases(5000), &[seed], |b| {
        let mut e = crate::scan::elf::ElfScanner::new();
        // Fed in uneven chunks, as the tar walk does.
        let mut rest = b;
        let mut step = 1 + (rest.len() % 7) * 997;
        while !rest.is_empty() {
            let n = step.min(rest.len());
            e.feed(&rest[..n]);
            rest = &rest[n..];
            step = step * 3 % 8191 + 1;
        }
        let _ = e.finish();
    });
}

#[test]
fn fuzz_record_parsing() {
    let seed = b"numpy/__init__.py,sha256=abc,123\n\"odd,name.py\",,\nnumpy-2.0.dist-info/RECORD,,\n../../../bin/f2py,sha256=x,9\n".to_vec();
    fuzz(6, cases(20000), &[seed], |b| {
        let text = String::from_utf8_lossy(b);
        let _ = crate::analyze::python::meta::record_paths(&text);
    });
}

/// An rpm header blob: NAME, VERSION and a two-file list.
fn rpm_header() -> Vec<u8> {
    let data = b"alpha\x001.2\x00/usr/bin/\x00a\x00b\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    // (tag, type, offset, count)
    let index: [(u32, u32, u32, u32); 5] = [
        (1000, 6, 0, 1),
        (1001, 6, 6, 1),
        (1118, 8, 10, 1),
        (1117, 8, 20, 2),
        (1116, 4, 24, 2),
    ];
    let mut out = Vec::new();
    out.extend_from_slice(&(index.len() as u32).to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for (a, b, c, d) in index {
        for v in [a, b, c, d] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    out.extend_from_slice(data);
    out
}

#[test]
fn fuzz_rpm_sqlite_database() {
    // A database written by `sqlite3` when it is installed (rows spilling
    // onto overflow pages and an interior page), else the header alone.
    let dir = std::env::temp_dir().join(format!("layerscope-fuzz-rpm-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let db = dir.join("rpmdb.sqlite");
    let blob = hex::encode(rpm_header());
    let sql = format!(
        "PRAGMA page_size=512; CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY, blob BLOB); \
         INSERT INTO Packages (blob) VALUES (X'{blob}'), (zeroblob(3000)), (X'{blob}'), (X'{blob}');"
    );
    let made = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(sql)
        .status()
        .is_ok_and(|s| s.success());
    let seed = if made {
        std::fs::read(&db).unwrap_or_default()
    } else {
        rpm_header()
    };
    let _ = std::fs::remove_dir_all(&dir);
    if made {
        let parsed = crate::packages::rpm::parse(&seed).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(
            parsed[0].1,
            [b"/usr/bin/a".to_vec(), b"/usr/bin/b".to_vec()]
        );
    }
    fuzz(12, cases(3000), &[seed], |b| {
        let _ = crate::packages::rpm::parse(b);
    });
}

#[test]
fn fuzz_manifests_indexes_and_configs() {
    use crate::source::config::{ImageConfig, ManifestOrIndex};
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":10}]}"#.to_vec();
    let index = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":3,"platform":{"architecture":"amd64","os":"linux"}}]}"#.to_vec();
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:3333333333333333333333333333333333333333333333333333333333333333"]},"history":[{"created_by":"RUN x"},{"empty_layer":true}]}"#.to_vec();
    fuzz(7, cases(10000), &[manifest, index], |b| {
        let _ = ManifestOrIndex::parse("fuzz", b);
    });
    fuzz(8, cases(10000), &[config], |b| {
        if let Ok(c) = ImageConfig::parse("fuzz", b) {
            let _ = c.platform();
            let _ = c.layer_history(3);
        }
    });
}

#[test]
fn fuzz_dockerfile_parser() {
    let seed = b"# syntax=docker/dockerfile:1\nARG BASE=python:3.11\nFROM ${BASE} AS build\nENV A=1 B=\"two words\"\nRUN apt-get update && \\\n    apt-get install -y gcc\nCOPY --from=build /a /b\nRUN <<EOF\necho hi\nEOF\nFROM scratch\nCOPY --chown=1:1 . /app\nCMD [\"x\"]\n".to_vec();
    fuzz(9, cases(5000), &[seed], |b| {
        let text = String::from_utf8_lossy(b);
        let _ = crate::dockerfile::parse::Dockerfile::parse("Dockerfile", &text);
    });
}

#[test]
fn fuzz_retry_after() {
    let seeds = vec![
        b"120".to_vec(),
        b"Wed, 21 Oct 2015 07:28:00 GMT".to_vec(),
        b"18446744073709551615".to_vec(),
    ];
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    fuzz(10, cases(20000), &seeds, |b| {
        let text = String::from_utf8_lossy(b);
        let _ = crate::source::registry::retry::retry_after(&text, now);
    });
}

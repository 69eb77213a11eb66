//! Scanner and model benchmarks (criterion).
//!
//! - `scan/{plain,gzip,zstd}`: one layer with a realistic file-size mix
//!   (thousands of small `.py`-like text files, a few large `.so`-like
//!   files), scanned by `scan_layer`; throughput in uncompressed bytes.
//! - `model/build+analyze 1M entries`: stacking three layers holding one
//!   million entries (whiteouts, a `chown -R` rewrite) and running every
//!   analyzer.
//!
//! `cargo bench --bench scan`; CI only compiles them (`cargo bench --no-run`).
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use layerscope::analyze::{self, AnalyzeOptions, ScanStats};
use layerscope::fixture::{self, Item, file, layer};
use layerscope::model::Image;
use layerscope::scan::{Compression, Entry, EntryKind, EntryPath, LayerIndex, Verify, scan_layer};
use layerscope::source::{ImageConfig, ImageInfo, LayerInfo};
use layerscope::{DiffId, Digest};

/// Python-like text (about 4x gzip) or shared-object-like bytes (text,
/// zeros and random runs, about 2x), deterministic.
fn content(size: usize, seed: u64, binary: bool) -> Vec<u8> {
    const WORDS: [&[u8]; 16] = [
        b"def ", b"self", b"return ", b"import ", b"numpy", b" = ", b"(x)", b":\n    ", b"\n",
        b"if ", b"for ", b" in ", b"array", b"None", b"value", b"np.",
    ];
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut out = Vec::with_capacity(size);
    let mut block = 0;
    while out.len() < size {
        let mode = if binary { [0, 1, 2, 0][block % 4] } else { 0 };
        block += 1;
        let end = (out.len() + 4096).min(size);
        while out.len() < end {
            let r = next();
            match mode {
                0 => out.extend_from_slice(WORDS[(r & 15) as usize]),
                1 => out.extend_from_slice(&r.to_le_bytes()),
                _ => out.extend_from_slice(&[0; 8]),
            }
        }
        out.truncate(end);
    }
    out
}

/// About 48 MB: 3000 small text files (avg ~6 KB) and 4 binaries of 7.5 MB.
fn realistic_layer() -> fixture::Layer {
    let mut items: Vec<Item> = Vec::new();
    for i in 0..3000u64 {
        let size = [200, 900, 2500, 4000, 6000, 9000, 14000, 11400][(i % 8) as usize];
        items.push(file(
            format!("usr/lib/python3/site-packages/pkg{}/m{i}.py", i / 300),
            content(size, i, false),
        ));
    }
    for k in 0..4u64 {
        items.push(file(
            format!("usr/lib/python3/site-packages/pkg{k}/libbig{k}.so"),
            content(7_500_000, 1000 + k, true),
        ));
    }
    layer(items)
}

fn info_for(blob: &[u8]) -> LayerInfo {
    use sha2::Digest as _;
    LayerInfo {
        digest: Digest::from_sha256(&sha2::Sha256::digest(blob).into()),
        diff_id: None,
        media_type: String::new(),
        blob_bytes: blob.len() as u64,
        compressed_bytes: Some(blob.len() as u64),
        created_by: None,
    }
}

fn scan(c: &mut Criterion) {
    let l = realistic_layer();
    let tar = l.tar();
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(tar.len() as u64));
    for (name, comp) in [
        ("plain", Compression::None),
        ("gzip", Compression::Gzip),
        ("zstd", Compression::Zstd),
    ] {
        let blob = l.blob(comp);
        let info = info_for(&blob);
        // A trusted local layer, and the same layer under `--verify`.
        group.bench_function(name, |b| {
            b.iter(|| scan_layer(black_box(blob.as_slice()), &info, Verify::Trust).unwrap())
        });
        group.bench_function(format!("{name}-verify"), |b| {
            b.iter(|| scan_layer(black_box(blob.as_slice()), &info, Verify::DiffIds).unwrap())
        });
    }
    group.finish();
}

fn entry(path: String, size: u64, uid: u32, hash: u64, kind: EntryKind) -> Entry {
    let mut content = [0u8; 16];
    content[..8].copy_from_slice(&hash.to_le_bytes());
    Entry {
        path: EntryPath::normalize(path.as_bytes()),
        kind,
        size,
        mode: 0o644,
        uid,
        gid: uid,
        link: None,
        hash: (kind == EntryKind::File).then_some(content),
        elf: None,
    }
}

fn index(entries: Vec<Entry>) -> LayerIndex {
    let d = Digest::from_sha256(&[0; 32]);
    LayerIndex {
        digest: d.clone(),
        diff_id: DiffId(d),
        verified: Verify::Trust,
        compression: Compression::Gzip,
        compressed_bytes: 1,
        uncompressed_bytes: 1,
        entries,
        captured: Vec::new(),
        sample: None,
        content: None,
        warnings: Vec::new(),
        sparse: Vec::new(),
    }
}

/// Three layers, one million entries: 800k files in the base, a whiteout of
/// one tenth of them, a `chown -R` rewrite of 100k (same hash), 100k new.
fn million() -> (ImageInfo, Vec<LayerIndex>) {
    let path = |i: u64| {
        format!(
            "usr/lib/python3/site-packages/pkg{}/sub{}/mod{i}.py",
            i / 10_000,
            (i / 100) % 100
        )
    };
    let base: Vec<Entry> = (0..800_000u64)
        .map(|i| entry(path(i), 1000 + i % 5000, 0, i % 600_000, EntryKind::File))
        .collect();
    let mut top: Vec<Entry> = (0..10u64)
        .map(|p| {
            entry(
                format!("usr/lib/python3/site-packages/pkg{p}"),
                0,
                0,
                0,
                EntryKind::Whiteout,
            )
        })
        .collect();
    top.extend(
        (100_000..200_000u64)
            .map(|i| entry(path(i), 1000 + i % 5000, 1000, i % 600_000, EntryKind::File)),
    );
    top.extend((800_000..900_000u64).map(|i| entry(path(i), 700, 0, i, EntryKind::File)));
    let layers = vec![index(base), index(Vec::new()), index(top)];
    let info = ImageInfo {
        reference: "bench".into(),
        manifest_digest: None,
        platform: Default::default(),
        config: ImageConfig::default(),
        layers: (0..layers.len())
            .map(|_| LayerInfo {
                digest: Digest::from_sha256(&[0; 32]),
                diff_id: None,
                media_type: String::new(),
                blob_bytes: 1,
                compressed_bytes: Some(1),
                created_by: None,
            })
            .collect(),
        warnings: Vec::new(),
    };
    (info, layers)
}

fn model(c: &mut Criterion) {
    let (info, layers) = million();
    let mut group = c.benchmark_group("model");
    group.sample_size(10);
    group.bench_function("build+analyze 1M entries", |b| {
        b.iter_batched(
            || (info.clone(), layers.clone()),
            |(info, layers)| {
                let image = Image::build(info, layers);
                black_box(analyze::run(
                    &image,
                    &AnalyzeOptions::default(),
                    ScanStats::default(),
                ))
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, scan, model);
criterion_main!(benches);

//! Pull cost: what a node downloads, how long it takes, and how to cut it.
//!
//! # The pull model
//!
//! A pull is modelled the way containerd and Docker fetch an image:
//!
//! * **Download.** Layers start in manifest order (bottom first), at most
//!   `concurrency` at a time (containerd's and Docker's default is 3); a
//!   layer starts as soon as a slot frees. Layers the node already has
//!   (`--have`) are not downloaded: the same blob digest (in the content
//!   store), or the same chain id (the same uncompressed layer on the same
//!   lower layers, already unpacked: containerd and Docker skip those
//!   whatever the blob's compression). The active
//!   downloads share the link (`bandwidth`) equally, and one download
//!   never goes faster than one stream's rate, which is by default the
//!   link divided by the concurrency: one HTTP stream per layer rarely fills
//!   a link on its own (TCP windows, registry and CDN per-connection
//!   limits), which is why clients open several. So when one layer is far
//!   larger than the rest, the others finish early and the big one carries
//!   on alone at a fraction of the link: it serializes the pull. With the
//!   defaults each layer of `c` bytes takes `c × 8 × concurrency /
//!   bandwidth` seconds and the layers are list-scheduled on `concurrency`
//!   slots; [`simulate`] also handles a stream rate above the share
//!   (processor sharing with a per-stream cap).
//! * **Unpack.** Layers are applied in order, one at a time, each as soon
//!   as it is downloaded and the layer below is applied. Unpacking costs
//!   the decompression of the layer's uncompressed bytes, at
//!   [`PullOptions::gzip_bytes_per_second`] or `zstd_bytes_per_second`
//!   (single-threaded Go decoders, as containerd runs them); disk writes are
//!   not modelled. `estimated_seconds` is the download time;
//!   `ready_seconds` adds the unpack tail.
//!
//! # Compression
//!
//! The scanner samples each layer's uncompressed stream and recompresses
//! the sample with gzip 6 and zstd 3 ([`crate::scan::sample`]); the ratios
//! scale to the layer. Files that are already compressed (wheels, zip, gz,
//! xz, zst archives) or are model weights (`.safetensors`, `.pt`, `.onnx`
//! ...) are counted per layer: no codec shrinks them.
//!
//! # Advice
//!
//! Each piece of advice comes with its figures in the report (seconds
//! before and after, bytes re-downloaded per release) and, when it saves
//! bytes or time, as a [`Finding`] so `check` can budget it.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Finding, FindingKind, Severity};
use crate::digest::{DiffId, Digest};
use crate::model::Image;
use crate::scan::{Compression, EntryKind, EntryPath, LayerIndex};
use crate::source::ImageInfo;

/// Settings of the pull model.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// Link speed in bits per second.
    pub bandwidth_bits_per_second: u64,
    /// Layers downloaded at once.
    pub concurrency: u32,
    /// The most one layer's download reaches, in bits per second
    /// (`None`: the link divided by the concurrency).
    pub stream_bits_per_second: Option<u64>,
    /// Layer digests the node already has (`--have`).
    pub have: HashSet<Digest>,
    /// Chain ids (OCI: a layer's diff id on top of its lower layers) the
    /// node already has unpacked (`--have`): containerd and Docker skip
    /// those layers whatever their blob's compression.
    pub have_chains: HashSet<Digest>,
    /// The history entries (`created_by`) of the `--have` images' layers:
    /// a layer of this image with a different digest but the same
    /// instruction was rebuilt, not changed on purpose.
    pub have_created_by: HashSet<String>,
    /// The `--have` references, for the report.
    pub have_images: Vec<String>,
    /// gzip decompression speed while unpacking, uncompressed bytes/s.
    pub gzip_bytes_per_second: u64,
    /// zstd decompression speed while unpacking, uncompressed bytes/s.
    pub zstd_bytes_per_second: u64,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            bandwidth_bits_per_second: 100_000_000,
            concurrency: 3,
            stream_bits_per_second: None,
            have: HashSet::new(),
            have_chains: HashSet::new(),
            have_created_by: HashSet::new(),
            have_images: Vec::new(),
            gzip_bytes_per_second: 250_000_000,
            zstd_bytes_per_second: 1_000_000_000,
        }
    }
}

impl PullOptions {
    /// Adds the layers of an image the node already has.
    pub fn add_have(&mut self, info: &ImageInfo) {
        self.have_images.push(info.reference.clone());
        self.have_chains.extend(
            chain_ids(info.layers.iter().map(|l| l.diff_id.as_ref()))
                .into_iter()
                .flatten(),
        );
        for l in &info.layers {
            self.have.insert(l.digest.clone());
            if let Some(c) = &l.created_by {
                self.have_created_by.insert(c.clone());
            }
        }
    }

    fn decompress_rate(&self, compression: Option<Compression>) -> Option<u64> {
        match compression {
            Some(Compression::Gzip) => Some(self.gzip_bytes_per_second),
            Some(Compression::Zstd) => Some(self.zstd_bytes_per_second),
            _ => None,
        }
    }
}

/// The OCI chain ids of a stack of layers given their diff ids, bottom
/// first: `ChainID(L0) = DiffID(L0)`, `ChainID(Ln) = sha256(ChainID(Ln-1)
/// + " " + DiffID(Ln))`. `None` from the first layer without a diff id on.
pub fn chain_ids<'a>(diff_ids: impl Iterator<Item = Option<&'a DiffId>>) -> Vec<Option<Digest>> {
    let mut prev: Option<Digest> = None;
    let mut broken = false;
    diff_ids
        .map(|d| match d {
            Some(d) if !broken => {
                let next = match &prev {
                    None => d.0.clone(),
                    Some(p) => Digest::of(format!("{} {}", p.as_str(), d.0.as_str()).as_bytes()),
                };
                prev = Some(next.clone());
                Some(next)
            }
            _ => {
                broken = true;
                None
            }
        })
        .collect()
}

/// Why a `--bandwidth` value cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a bandwidth (examples: 100Mbit/s, 1Gbit/s, 50MB/s)")]
pub struct BadBandwidth(pub String);

/// Parses a bandwidth such as `100Mbit/s`, `1Gbit/s`, `1gbps`, `50MB/s`,
/// `12.5MiB/s` into bits per second. Bits unless the unit says bytes (`B`).
pub fn parse_bandwidth(text: &str) -> Result<u64, BadBandwidth> {
    let bad = || BadBandwidth(text.to_owned());
    let s = text.trim();
    let s = s
        .strip_suffix("/s")
        .or_else(|| s.strip_suffix("ps"))
        .unwrap_or(s);
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim();
    let (prefix, rest) = match unit.chars().next() {
        Some(c @ ('k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T')) => {
            (Some(c.to_ascii_lowercase()), &unit[1..])
        }
        _ => (None, unit),
    };
    let (binary, rest) = match rest.strip_prefix('i') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let bits_per_unit = match rest {
        "" | "b" | "bit" | "bits" => 1.0,
        "B" | "byte" | "bytes" => 8.0,
        _ => return Err(bad()),
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let scale = match prefix {
        None => 1.0,
        Some('k') => base,
        Some('m') => base.powi(2),
        Some('g') => base.powi(3),
        _ => base.powi(4),
    };
    let bits = value * scale * bits_per_unit;
    if !bits.is_finite() || bits < 1.0 || bits > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bits.round() as u64)
}

/// One layer as the pull model sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ModelLayer {
    /// Bytes to download (0: the node has it; it is neither downloaded nor
    /// unpacked).
    pub download_bytes: u64,
    /// Seconds to unpack it once downloaded.
    pub unpack_seconds: f64,
}

/// When each layer is downloaded and unpacked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// Per layer: download start and end, unpack end (seconds from the
    /// start of the pull; all 0 for layers not downloaded).
    pub layers: Vec<LayerTimes>,
    /// When the last download ends.
    pub download_seconds: f64,
    /// When the last layer is unpacked: the image is ready.
    pub ready_seconds: f64,
}

/// The times of one layer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LayerTimes {
    /// Download starts.
    pub start: f64,
    /// Download ends.
    pub end: f64,
    /// Unpack ends.
    pub unpacked: f64,
}

/// Runs the pull model (see the module doc) over `layers`, bottom first.
pub fn simulate(
    layers: &[ModelLayer],
    bandwidth_bits_per_second: u64,
    concurrency: u32,
    stream_bits_per_second: Option<u64>,
) -> Timeline {
    let slots = concurrency.max(1) as usize;
    let link = bandwidth_bits_per_second.max(1) as f64 / 8.0;
    let cap = stream_bits_per_second.map_or(link / slots as f64, |s| s.max(1) as f64 / 8.0);
    let mut times = vec![LayerTimes::default(); layers.len()];
    let mut active: Vec<(usize, f64)> = Vec::with_capacity(slots);
    let mut next = 0;
    let mut now = 0.0f64;
    loop {
        while active.len() < slots && next < layers.len() {
            if layers[next].download_bytes > 0 {
                active.push((next, layers[next].download_bytes as f64));
                times[next].start = now;
            }
            next += 1;
        }
        if active.is_empty() {
            break;
        }
        let rate = cap.min(link / active.len() as f64);
        let least = active.iter().map(|a| a.1).fold(f64::INFINITY, f64::min);
        now += least / rate;
        for a in &mut active {
            a.1 -= least;
            if a.1 <= 0.0 {
                times[a.0].end = now;
            }
        }
        active.retain(|a| a.1 > 0.0);
    }
    let mut applied = 0.0f64;
    for (t, l) in times.iter_mut().zip(layers) {
        if l.download_bytes > 0 {
            applied = applied.max(t.end) + l.unpack_seconds;
            t.unpacked = applied;
        }
    }
    let download_seconds = times.iter().map(|t| t.end).fold(0.0, f64::max);
    Timeline {
        layers: times,
        download_seconds,
        ready_seconds: applied,
    }
}

/// The `pull` object of the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PullReport {
    /// Compressed bytes a node without any of the layers (or with only the
    /// `--have` ones) downloads.
    pub download_bytes: u64,
    /// True when some layer's compressed size is an estimate (the source
    /// held it uncompressed), so the figures here are estimates too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// Estimated seconds to download them at the given bandwidth and
    /// concurrency.
    pub estimated_seconds: f64,
    /// The bandwidth assumed.
    pub bandwidth_bits_per_second: u64,
    /// The concurrency assumed.
    pub concurrency: u32,
    /// Compressed bytes of all layers (what a node without any downloads).
    #[serde(default)]
    pub total_compressed_bytes: u64,
    /// Compressed bytes the node already has (`--have`).
    #[serde(default)]
    pub shared_bytes: u64,
    /// Uncompressed bytes written to disk by the layers downloaded
    /// (`None` when only the manifest was read).
    #[serde(default)]
    pub disk_bytes: Option<u64>,
    /// Seconds until the last layer is unpacked (download plus the unpack
    /// tail; `None` when only the manifest was read).
    #[serde(default)]
    pub ready_seconds: Option<f64>,
    /// The `--have` images.
    #[serde(default)]
    pub have: Vec<String>,
    /// One row per layer.
    pub layers: Vec<PullLayer>,
    /// What recompressing would give (when layers were scanned).
    #[serde(default)]
    pub compression: Option<CompressionEstimate>,
    /// The layer that sets the pull time, and the time if it were split.
    #[serde(default)]
    pub split: Option<SplitEstimate>,
    /// Layers re-downloaded only because a layer below them changed.
    #[serde(default)]
    pub reorder: Option<ReorderEstimate>,
    /// Whether the image is large enough for lazy pulling (eStargz, SOCI)
    /// to be worth a look.
    #[serde(default)]
    pub lazy_pull_suggested: bool,
}

/// One layer of the pull.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PullLayer {
    /// 0 = bottom.
    #[serde(default)]
    pub index: u32,
    /// Blob digest.
    pub digest: Digest,
    /// Blob size (an estimate when `estimated`).
    pub compressed_bytes: u64,
    /// True when the source held the layer uncompressed (`docker save`, the
    /// engine) and `compressed_bytes` is the gzip level 6 estimate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// True when the node already has it.
    pub shared: bool,
    /// The history entry that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The compression found in the blob (`None`: not scanned).
    #[serde(default)]
    pub compression: Option<Compression>,
    /// Tar stream length: bytes written to disk when unpacked.
    #[serde(default)]
    pub uncompressed_bytes: Option<u64>,
    /// compressed / uncompressed.
    #[serde(default)]
    pub ratio: Option<f64>,
    /// Estimated size with gzip level 6 (from the sample).
    #[serde(default)]
    pub gzip6_bytes: Option<u64>,
    /// Estimated size with zstd level 3 (from the sample).
    #[serde(default)]
    pub zstd3_bytes: Option<u64>,
    /// Bytes of files that are already compressed (archives, wheels) or
    /// model weights.
    #[serde(default)]
    pub precompressed_bytes: u64,
    /// Of those, bytes of model weights.
    #[serde(default)]
    pub model_bytes: u64,
    /// Download start, seconds from the start of the pull.
    #[serde(default)]
    pub download_start_seconds: f64,
    /// Download end.
    #[serde(default)]
    pub download_end_seconds: f64,
}

/// What recompressing the downloaded layers would give.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CompressionEstimate {
    /// Estimated download with gzip level 6.
    pub gzip6_bytes: u64,
    /// Estimated download with zstd level 3.
    pub zstd3_bytes: u64,
    /// Download bytes zstd saves against the blobs as they are (layers
    /// that would grow count as 0).
    pub zstd_saved_bytes: u64,
    /// Estimated download seconds with zstd.
    pub zstd_estimated_seconds: f64,
    /// Unpack seconds saved by zstd's faster decompression.
    pub unpack_seconds_saved: f64,
    /// Estimated ready seconds with zstd.
    pub zstd_ready_seconds: f64,
    /// Bytes of already-compressed files and model weights in the layers
    /// downloaded.
    pub precompressed_bytes: u64,
    /// Of those, model weights.
    pub model_bytes: u64,
}

/// Splitting the layer that sets the pull time.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SplitEstimate {
    /// The layer.
    pub layer: u32,
    /// Into how many layers of equal size.
    pub parts: u32,
    /// Estimated download seconds now.
    pub seconds_now: f64,
    /// Estimated download seconds after the split.
    pub seconds_after: f64,
}

/// Moving a volatile layer last.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ReorderEstimate {
    /// The lowest layer that changed against the `--have` images.
    pub layer: u32,
    /// Its history entry.
    pub created_by: Option<String>,
    /// Layers above it rebuilt with the same instruction (re-downloaded only
    /// because it changed).
    pub rebuilt_layers: Vec<u32>,
    /// Compressed bytes re-downloaded per release now.
    pub redownload_bytes: u64,
    /// Compressed bytes re-downloaded if the layer came last (the rebuilt
    /// layers then stay shared).
    pub redownload_bytes_after: u64,
    /// Estimated download seconds now.
    pub seconds_now: f64,
    /// Estimated download seconds after.
    pub seconds_after: f64,
}

/// Images at least this large (compressed download) get the lazy-pull note.
pub const LAZY_PULL_BYTES: u64 = 1_000_000_000;

/// A split is advised when it saves at least this share of the download
/// time, and at least [`SPLIT_MIN_SECONDS`].
const SPLIT_MIN_SAVING: f64 = 0.2;

/// See [`SPLIT_MIN_SAVING`].
const SPLIT_MIN_SECONDS: f64 = 5.0;

/// Extensions of files no codec shrinks further.
const COMPRESSED_EXT: &[&str] = &[
    ".whl", ".zip", ".gz", ".tgz", ".xz", ".txz", ".zst", ".bz2", ".7z", ".jar", ".egg", ".npz",
    ".png", ".jpg", ".jpeg", ".webp", ".mp4",
];

/// Extensions of model weight files.
const MODEL_EXT: &[&str] = &[
    ".safetensors",
    ".pt",
    ".pth",
    ".ckpt",
    ".onnx",
    ".gguf",
    ".h5",
    ".tflite",
    ".pb",
    ".msgpack",
];

/// `.bin` files at least this large are counted as model weights
/// (`pytorch_model.bin`); smaller ones are usually firmware or data.
const MODEL_BIN_MIN: u64 = 10_000_000;

/// Whether a path is model weights (`size` decides for `.bin`).
pub fn is_model_file(name: &[u8], size: u64) -> bool {
    MODEL_EXT.iter().any(|e| super::ends_with_ci(name, e))
        || (super::ends_with_ci(name, ".bin") && size >= MODEL_BIN_MIN)
}

/// Whether a path is an already-compressed file.
pub fn is_compressed_file(name: &[u8]) -> bool {
    COMPRESSED_EXT.iter().any(|e| super::ends_with_ci(name, e))
}

/// `(precompressed bytes, model bytes)` of one layer's regular files.
fn precompressed(layer: &LayerIndex) -> (u64, u64) {
    let mut all = 0;
    let mut model = 0;
    for e in layer.entries.iter().filter(|e| e.kind == EntryKind::File) {
        let name = e.path.file_name();
        if is_model_file(name, e.size) {
            model += e.size;
            all += e.size;
        } else if is_compressed_file(name) {
            all += e.size;
        }
    }
    (all, model)
}

/// The pull cost of `image`.
pub fn report(image: &Image, options: &PullOptions) -> PullReport {
    report_from(&image.info, Some(&image.layers), options)
}

/// The pull cost from the manifest alone (`layers: None`) or with the
/// scanned layer indexes.
pub fn report_from(
    info: &ImageInfo,
    scanned: Option<&[LayerIndex]>,
    options: &PullOptions,
) -> PullReport {
    let scanned = scanned.filter(|s| s.len() == info.layers.len());
    let chains = chain_ids(
        info.layers
            .iter()
            .enumerate()
            .map(|(i, l)| scanned.map(|s| &s[i].diff_id).or(l.diff_id.as_ref())),
    );
    let mut layers: Vec<PullLayer> = info
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let index = scanned.map(|s| &s[i]);
            let (pre, model) = index.map(precompressed).unwrap_or_default();
            let pulled = crate::model::pull_bytes(Some(l), index);
            let compressed_bytes = pulled.bytes;
            let uncompressed = index.map(|x| x.uncompressed_bytes);
            let sample = index.and_then(|x| x.sample);
            PullLayer {
                index: i as u32,
                digest: l.digest.clone(),
                compressed_bytes,
                estimated: pulled.estimated,
                shared: options.have.contains(&l.digest)
                    || chains[i]
                        .as_ref()
                        .is_some_and(|c| options.have_chains.contains(c)),
                created_by: l.created_by.clone(),
                compression: index.map(|x| x.compression),
                uncompressed_bytes: uncompressed,
                ratio: uncompressed.map(|u| {
                    if u == 0 {
                        1.0
                    } else {
                        compressed_bytes as f64 / u as f64
                    }
                }),
                gzip6_bytes: sample.map(|s| s.estimated_gzip_bytes()),
                zstd3_bytes: sample.map(|s| s.estimated_zstd_bytes()),
                precompressed_bytes: pre,
                model_bytes: model,
                download_start_seconds: 0.0,
                download_end_seconds: 0.0,
            }
        })
        .collect();

    let unpack = |l: &PullLayer, compression: Option<Compression>| -> f64 {
        match (l.uncompressed_bytes, options.decompress_rate(compression)) {
            (Some(u), Some(rate)) => u as f64 / rate.max(1) as f64,
            _ => 0.0,
        }
    };
    let model: Vec<ModelLayer> = layers
        .iter()
        .map(|l| ModelLayer {
            download_bytes: if l.shared { 0 } else { l.compressed_bytes },
            unpack_seconds: if l.shared {
                0.0
            } else {
                unpack(l, l.compression)
            },
        })
        .collect();
    let run = |m: &[ModelLayer]| {
        simulate(
            m,
            options.bandwidth_bits_per_second,
            options.concurrency,
            options.stream_bits_per_second,
        )
    };
    let timeline = run(&model);
    for (l, t) in layers.iter_mut().zip(&timeline.layers) {
        l.download_start_seconds = t.start;
        l.download_end_seconds = t.end;
    }
    let download_bytes = model.iter().map(|m| m.download_bytes).sum();
    let downloaded = || layers.iter().filter(|l| !l.shared);

    let compression = scanned.map(|_| {
        let zstd_model: Vec<ModelLayer> = layers
            .iter()
            .zip(&model)
            .map(|(l, m)| ModelLayer {
                download_bytes: if l.shared {
                    0
                } else {
                    l.zstd3_bytes
                        .unwrap_or(l.compressed_bytes)
                        .min(l.compressed_bytes)
                        .max(1)
                },
                unpack_seconds: if l.shared {
                    0.0
                } else {
                    unpack(l, Some(Compression::Zstd)).min(m.unpack_seconds.max(0.0))
                },
            })
            .collect();
        let zstd_timeline = run(&zstd_model);
        CompressionEstimate {
            gzip6_bytes: downloaded()
                .map(|l| l.gzip6_bytes.unwrap_or(l.compressed_bytes))
                .sum(),
            zstd3_bytes: downloaded()
                .map(|l| l.zstd3_bytes.unwrap_or(l.compressed_bytes))
                .sum(),
            zstd_saved_bytes: downloaded()
                .map(|l| {
                    l.compressed_bytes
                        .saturating_sub(l.zstd3_bytes.unwrap_or(l.compressed_bytes))
                })
                .sum(),
            zstd_estimated_seconds: zstd_timeline.download_seconds,
            unpack_seconds_saved: model
                .iter()
                .zip(&zstd_model)
                .map(|(a, b)| (a.unpack_seconds - b.unpack_seconds).max(0.0))
                .sum(),
            zstd_ready_seconds: zstd_timeline.ready_seconds,
            precompressed_bytes: downloaded().map(|l| l.precompressed_bytes).sum(),
            model_bytes: downloaded().map(|l| l.model_bytes).sum(),
        }
    });

    let split = split_estimate(&model, &timeline, options, &run);
    let reorder = reorder_estimate(&layers, &model, &timeline, options, &run);
    PullReport {
        download_bytes,
        estimated: layers.iter().any(|l| l.estimated),
        estimated_seconds: timeline.download_seconds,
        bandwidth_bits_per_second: options.bandwidth_bits_per_second,
        concurrency: options.concurrency,
        total_compressed_bytes: layers.iter().map(|l| l.compressed_bytes).sum(),
        shared_bytes: layers
            .iter()
            .filter(|l| l.shared)
            .map(|l| l.compressed_bytes)
            .sum(),
        disk_bytes: scanned.map(|_| downloaded().filter_map(|l| l.uncompressed_bytes).sum()),
        ready_seconds: scanned.map(|_| timeline.ready_seconds),
        have: options.have_images.clone(),
        lazy_pull_suggested: download_bytes >= LAZY_PULL_BYTES,
        layers,
        compression,
        split,
        reorder,
    }
}

/// The time if the layer that finishes last were split into `concurrency`
/// equal layers, when that saves at least [`SPLIT_MIN_SAVING`].
fn split_estimate(
    model: &[ModelLayer],
    timeline: &Timeline,
    options: &PullOptions,
    run: &dyn Fn(&[ModelLayer]) -> Timeline,
) -> Option<SplitEstimate> {
    let parts = options.concurrency.max(1);
    if parts < 2 || timeline.download_seconds <= 0.0 {
        return None;
    }
    let (last, _) = timeline
        .layers
        .iter()
        .enumerate()
        .filter(|(i, _)| model[*i].download_bytes > 0)
        .max_by(|a, b| a.1.end.total_cmp(&b.1.end).then(b.0.cmp(&a.0)))?;
    let big = model[last];
    let mut split = Vec::with_capacity(model.len() + parts as usize);
    split.extend_from_slice(&model[..last]);
    let piece = big.download_bytes / u64::from(parts);
    for p in 0..parts {
        let bytes = if p + 1 == parts {
            big.download_bytes - piece * u64::from(parts - 1)
        } else {
            piece
        };
        split.push(ModelLayer {
            download_bytes: bytes,
            unpack_seconds: big.unpack_seconds / f64::from(parts),
        });
    }
    split.extend_from_slice(&model[last + 1..]);
    let after = run(&split).download_seconds;
    let saved = timeline.download_seconds - after;
    (saved >= timeline.download_seconds * SPLIT_MIN_SAVING && saved >= SPLIT_MIN_SECONDS).then_some(
        SplitEstimate {
            layer: last as u32,
            parts,
            seconds_now: timeline.download_seconds,
            seconds_after: after,
        },
    )
}

/// With `--have`: the lowest changed layer, and the layers above it that
/// were rebuilt with an instruction the `--have` images also ran (so they
/// would have stayed shared had the changed layer come last).
fn reorder_estimate(
    layers: &[PullLayer],
    model: &[ModelLayer],
    timeline: &Timeline,
    options: &PullOptions,
    run: &dyn Fn(&[ModelLayer]) -> Timeline,
) -> Option<ReorderEstimate> {
    if options.have.is_empty() {
        return None;
    }
    let first = layers.iter().position(|l| !l.shared)?;
    let rebuilt: Vec<u32> = layers[first + 1..]
        .iter()
        .filter(|l| {
            !l.shared
                && l.created_by
                    .as_ref()
                    .is_some_and(|c| options.have_created_by.contains(c))
        })
        .map(|l| l.index)
        .collect();
    if rebuilt.is_empty() {
        return None;
    }
    let rebuilt_bytes: u64 = rebuilt
        .iter()
        .map(|&i| layers[i as usize].compressed_bytes)
        .sum();
    // Shared layers first, then the other changed layers, the volatile one last.
    let mut after: Vec<ModelLayer> = model
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != first)
        .map(|(i, m)| {
            if rebuilt.contains(&(i as u32)) {
                ModelLayer::default()
            } else {
                *m
            }
        })
        .collect();
    after.push(model[first]);
    let redownload_bytes: u64 = model.iter().map(|m| m.download_bytes).sum();
    Some(ReorderEstimate {
        layer: first as u32,
        created_by: layers[first].created_by.clone(),
        rebuilt_layers: rebuilt,
        redownload_bytes,
        redownload_bytes_after: redownload_bytes - rebuilt_bytes,
        seconds_now: timeline.download_seconds,
        seconds_after: run(&after).download_seconds,
    })
}

/// Share of the final filesystem model weights must reach to be advised
/// out of the image.
const MODEL_SHARE: f64 = 0.25;

/// Model weights below this are left alone.
const MODEL_MIN_BYTES: u64 = 100_000_000;

/// zstd savings below this are not worth a finding.
const ZSTD_MIN_SAVING: u64 = 10_000_000;

/// Layers at least this large whose compressed size is at least
/// [`POOR_RATIO`] of their uncompressed size are poorly compressed.
const POOR_MIN_BYTES: u64 = 50_000_000;

/// See [`POOR_MIN_BYTES`].
const POOR_RATIO: f64 = 0.8;

/// Pull findings: a dominant layer, zstd savings, poorly compressing
/// layers, model weights in the image, and layers out of order.
pub fn findings(image: &Image, report: &PullReport, _options: &PullOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let layer = |i: u32| &report.layers[i as usize];
    if let Some(s) = &report.split {
        let l = layer(s.layer);
        let layer_bytes = l.uncompressed_bytes.unwrap_or(l.compressed_bytes);
        // A layer that mostly rewrites lower files with a new owner or mode
        // (chown -R, chmod -R) should go, not be split.
        let rewritten: u64 = image
            .shadowed
            .iter()
            .filter(|x| x.by_layer == s.layer && x.how == crate::model::ShadowKind::MetadataOnly)
            .map(|x| image.entry(x.loc).size)
            .sum();
        let fix = if rewritten.saturating_mul(2)
            >= crate::model::layer_content_bytes(&image.layers[s.layer as usize])
            && rewritten > 0
        {
            "most of this layer rewrites files of lower layers with a new owner or mode: drop that step (`COPY --chown`, or set ownership in the RUN that creates the files) and the layer disappears from the pull".to_owned()
        } else {
            format!(
                "split it into {} layers of similar size (separate RUN or COPY steps, e.g. one per group of packages) so they download in parallel",
                s.parts
            )
        };
        let mut f = Finding::new(
            image,
            FindingKind::PullDominantLayer,
            &[(s.layer, layer_bytes)],
            format!(
                "layer {} is still downloading, alone on one connection, long after the others finished: it sets the pull time",
                s.layer
            ),
            fix,
        );
        f.compressed_bytes = l.compressed_bytes;
        out.push(f.with_paths(largest_paths(image, s.layer)));
    }
    if let Some(c) = &report.compression
        && c.zstd_saved_bytes >= ZSTD_MIN_SAVING
    {
        let per_layer: Vec<(u32, u64)> = report
            .layers
            .iter()
            .filter(|l| !l.shared)
            .filter_map(|l| {
                l.zstd3_bytes
                    .map(|z| (l.index, l.compressed_bytes.saturating_sub(z)))
            })
            .filter(|&(_, b)| b > 0)
            .collect();
        let mut f = Finding::new(
            image,
            FindingKind::ZstdCompression,
            &per_layer,
            "these layers would download smaller and unpack faster compressed with zstd",
            "push with zstd: `buildah push --compression-format zstd`, or `docker buildx build --output type=image,compression=zstd,force-compression=true,push=true` (containerd 1.5+ and Docker 23+ pull it)",
        );
        f.compressed_bytes = f.bytes;
        f.severity = Severity::for_bytes(f.bytes);
        out.push(f);
    }
    for l in report.layers.iter().filter(|l| !l.shared) {
        let (Some(u), Some(r)) = (l.uncompressed_bytes, l.ratio) else {
            continue;
        };
        if u >= POOR_MIN_BYTES && r >= POOR_RATIO && l.precompressed_bytes > 0 {
            let f = Finding::new(
                image,
                FindingKind::PoorCompression,
                &[(l.index, l.precompressed_bytes)],
                "this layer barely compresses: it is mostly files that are already compressed (wheels, archives) or model weights",
                "do not ship archives in the image (install wheels from a bind mount, unpack archives in the same RUN and delete them); fetch model weights at start-up or mount them",
            );
            out.push(f.with_paths(precompressed_paths(image, l.index)));
        }
    }
    let model_layers: Vec<(u32, u64)> = model_files(image)
        .fold(
            HashMap::new(),
            |mut m: HashMap<u32, u64>, (loc, size, _)| {
                *m.entry(loc).or_default() += size;
                m
            },
        )
        .into_iter()
        .collect();
    let model_bytes: u64 = model_layers.iter().map(|&(_, b)| b).sum();
    let final_bytes = image.final_bytes();
    if model_bytes >= MODEL_MIN_BYTES && model_bytes as f64 >= MODEL_SHARE * final_bytes as f64 {
        let mut per_layer = model_layers;
        per_layer.sort_unstable();
        let f = Finding::new(
            image,
            FindingKind::ModelWeights,
            &per_layer,
            "model weights make up a large part of the image: every node pulls them with every new image",
            "move them out of the image: download them at start-up from object storage or a model hub into a cached volume, or ship them as a separate OCI artifact mounted as a volume",
        );
        out.push(
            f.with_paths(
                model_files(image)
                    .map(|(_, size, path)| (path, size))
                    .collect(),
            ),
        );
    }
    if let Some(r) = &report.reorder {
        let per_layer: Vec<(u32, u64)> = r
            .rebuilt_layers
            .iter()
            .map(|&i| {
                (
                    i,
                    layer(i)
                        .uncompressed_bytes
                        .unwrap_or(layer(i).compressed_bytes),
                )
            })
            .collect();
        let mut f = Finding::new(
            image,
            FindingKind::LayerOrder,
            &per_layer,
            format!(
                "layer {} changes between releases and forces the layers above it to be rebuilt and re-downloaded, though their instructions did not change",
                r.layer
            ),
            format!(
                "move the step that creates layer {} after the large, rarely changing steps (put dependency installs first and the application source last)",
                r.layer
            ),
        );
        f.compressed_bytes = r.redownload_bytes - r.redownload_bytes_after;
        out.push(f);
    }
    out
}

/// The model files of the final filesystem: layer, size, path.
fn model_files(image: &Image) -> impl Iterator<Item = (u32, u64, String)> + '_ {
    image
        .final_entries()
        .filter(|(_, e)| e.kind == EntryKind::File && is_model_file(e.path.file_name(), e.size))
        .map(|(loc, e)| (loc.layer, e.size, e.path.display()))
}

fn largest_paths(image: &Image, layer: u32) -> Vec<(String, u64)> {
    let paths: Vec<(&EntryPath, u64)> = image.layers[layer as usize]
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| (&e.path, e.size))
        .collect();
    super::largest(paths)
        .into_iter()
        .map(|(p, size)| (p.display(), size))
        .collect()
}

fn precompressed_paths(image: &Image, layer: u32) -> Vec<(String, u64)> {
    image.layers[layer as usize]
        .entries
        .iter()
        .filter(|e| {
            e.kind == EntryKind::File
                && (is_compressed_file(e.path.file_name())
                    || is_model_file(e.path.file_name(), e.size))
        })
        .map(|e| (e.path.display(), e.size))
        .collect()
}

/// The schema identifier of `layerscope pull --format json`.
pub const PULL_SCHEMA: &str = "layerscope/pull/v1";

/// What `layerscope pull` reports: one pull per image, and the sharing
/// matrix when there are several.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PullOutput {
    /// Always [`PULL_SCHEMA`].
    pub schema: String,
    /// One entry per image, in the order given.
    pub images: Vec<PullImage>,
    /// Layers shared between the images (two or more images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<Sharing>,
}

/// The pull of one image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PullImage {
    /// The reference as given.
    pub reference: String,
    /// The manifest digest, when there is one.
    pub manifest_digest: Option<Digest>,
    /// The pull cost.
    pub pull: PullReport,
    /// Pull findings (empty when only the manifest was read).
    pub findings: Vec<Finding>,
}

/// Which layers several images share, by blob digest.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Sharing {
    /// The images, in the order given.
    pub images: Vec<String>,
    /// `shared_bytes[i][j]`: compressed bytes of the layers images `i` and
    /// `j` both have (the diagonal is each image's own size): what pulling
    /// `j` on a node that has `i` does not download.
    pub shared_bytes: Vec<Vec<u64>>,
    /// Compressed bytes of every distinct layer: what a node pulling all
    /// the images downloads.
    pub distinct_bytes: u64,
    /// The sum of the images' sizes: what it would download if nothing
    /// were shared.
    pub sum_bytes: u64,
}

/// The sharing matrix of `images` (reference, layers as digest and size).
pub fn sharing(images: &[(String, Vec<(Digest, u64)>)]) -> Sharing {
    let sets: Vec<HashMap<&Digest, u64>> = images
        .iter()
        .map(|(_, ls)| ls.iter().map(|(d, s)| (d, *s)).collect())
        .collect();
    let shared_bytes = sets
        .iter()
        .map(|a| {
            sets.iter()
                .map(|b| {
                    a.iter()
                        .filter(|(d, _)| b.contains_key(*d))
                        .map(|(_, s)| s)
                        .sum()
                })
                .collect()
        })
        .collect();
    let mut distinct: BTreeSet<(&Digest, u64)> = BTreeSet::new();
    for s in &sets {
        distinct.extend(s.iter().map(|(d, s)| (*d, *s)));
    }
    Sharing {
        images: images.iter().map(|(r, _)| r.clone()).collect(),
        shared_bytes,
        distinct_bytes: distinct.iter().map(|(_, s)| s).sum(),
        sum_bytes: sets.iter().map(|s| s.values().sum::<u64>()).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;
    /// 100 Mbit/s = 12.5 MB/s; with 3 streams each gets 12.5/3 MB/s.
    const LINK: u64 = 100_000_000;

    fn dl(sizes: &[u64]) -> Vec<ModelLayer> {
        sizes
            .iter()
            .map(|&s| ModelLayer {
                download_bytes: s,
                unpack_seconds: 0.0,
            })
            .collect()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn one_dominant_layer_serializes_the_pull() {
        // 900 MB on one stream of 12.5/3 MB/s: 216 s; the two 50 MB layers
        // finish at 12 s. Everything at full link speed would be 80 s.
        let t = simulate(&dl(&[900 * MB, 50 * MB, 50 * MB]), LINK, 3, None);
        close(t.download_seconds, 216.0);
        close(t.layers[1].end, 12.0);
        // Split into three 300 MB layers: 72 s each in parallel, then the
        // two 50 MB layers take 12 s more.
        let t = simulate(
            &dl(&[300 * MB, 300 * MB, 300 * MB, 50 * MB, 50 * MB]),
            LINK,
            3,
            None,
        );
        close(t.download_seconds, 84.0);
        close(t.layers[3].start, 72.0);
    }

    #[test]
    fn many_equal_layers_fill_the_link() {
        // Six 100 MB layers, three at a time at 12.5/3 MB/s: two waves of 24 s.
        let t = simulate(&dl(&[100 * MB; 6]), LINK, 3, None);
        close(t.download_seconds, 48.0);
        close(t.layers[5].start, 24.0);
        // 600 MB at 12.5 MB/s is 48 s: equal layers lose nothing.
        close(t.download_seconds, 600.0 / 12.5);
    }

    #[test]
    fn shared_layers_are_not_downloaded() {
        // The node has the first layer (0 bytes to download): the other two
        // download side by side, 100 MB at 12.5/3 MB/s = 24 s.
        let t = simulate(&dl(&[0, 100 * MB, 100 * MB]), LINK, 3, None);
        close(t.download_seconds, 24.0);
        assert_eq!(t.layers[0], LayerTimes::default());
    }

    #[test]
    fn full_rate_streams_share_the_link() {
        // Streams allowed the whole link: 900 + 50 + 50 MB at 12.5 MB/s is 80 s.
        let t = simulate(&dl(&[900 * MB, 50 * MB, 50 * MB]), LINK, 3, Some(LINK));
        close(t.download_seconds, 80.0);
        // Three streams share 12.5 MB/s until the 50 MB ones end at 12 s.
        close(t.layers[1].end, 12.0);
    }

    #[test]
    fn unpack_runs_in_order_after_download() {
        // Layer 0 downloads in 24 s, layer 1 in 12 s (both in parallel);
        // layer 1 cannot be applied before layer 0: 24 + 10 + 5.
        let layers = [
            ModelLayer {
                download_bytes: 100 * MB,
                unpack_seconds: 10.0,
            },
            ModelLayer {
                download_bytes: 50 * MB,
                unpack_seconds: 5.0,
            },
        ];
        let t = simulate(&layers, LINK, 3, None);
        close(t.download_seconds, 24.0);
        close(t.ready_seconds, 39.0);
    }

    #[test]
    fn chain_ids_follow_the_oci_definition() {
        let d = |c: char| DiffId(Digest::of(c.to_string().as_bytes()));
        let (a, b) = (d('a'), d('b'));
        let chains = chain_ids([Some(&a), Some(&b), None, Some(&a)].into_iter());
        let second = Digest::of(format!("{} {}", a.0.as_str(), b.0.as_str()).as_bytes());
        assert_eq!(chains, vec![Some(a.0.clone()), Some(second), None, None]);
    }

    #[test]
    fn parses_bandwidths() {
        assert_eq!(parse_bandwidth("100Mbit/s").ok(), Some(100_000_000));
        assert_eq!(parse_bandwidth("1Gbit/s").ok(), Some(1_000_000_000));
        assert_eq!(parse_bandwidth("1gbps").ok(), Some(1_000_000_000));
        assert_eq!(parse_bandwidth("50MB/s").ok(), Some(400_000_000));
        assert_eq!(parse_bandwidth("1MiB/s").ok(), Some(8 * 1024 * 1024));
        assert_eq!(parse_bandwidth("2.5 Mbit/s").ok(), Some(2_500_000));
        assert!(parse_bandwidth("fast").is_err());
        assert!(parse_bandwidth("0Mbit/s").is_err());
        assert!(parse_bandwidth("10 furlongs").is_err());
    }

    #[test]
    fn sharing_matrix_counts_common_layers() {
        let d = |c: char| Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).ok();
        let (Some(a), Some(b), Some(c)) = (d('a'), d('b'), d('c')) else {
            panic!("digests")
        };
        let s = sharing(&[
            ("x".into(), vec![(a.clone(), 100), (b.clone(), 10)]),
            ("y".into(), vec![(a.clone(), 100), (c.clone(), 20)]),
        ]);
        assert_eq!(s.shared_bytes, vec![vec![110, 100], vec![100, 120]]);
        assert_eq!(s.distinct_bytes, 130);
        assert_eq!(s.sum_bytes, 230);
    }
}

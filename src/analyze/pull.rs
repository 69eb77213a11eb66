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
//! bytes or time, as a [`Finding`](crate::analyze::Finding) so `check` can budget it.

mod advice;
mod options;
mod sharing;
mod simulate;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::model::Image;
use crate::scan::{Compression, EntryKind, LayerIndex};
use crate::source::ImageInfo;

pub use advice::findings;
use advice::{reorder_estimate, split_estimate};
pub use options::{BadBandwidth, PullOptions, chain_ids, parse_bandwidth};
pub use sharing::{PULL_SCHEMA, PullImage, PullOutput, Sharing, sharing};
pub use simulate::{LayerTimes, ModelLayer, Timeline, simulate};

/// The `pull` object of the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PullReport {
    /// Compressed bytes a node without any of the layers (or with only the
    /// `--have` ones) downloads.
    pub download_bytes: u64,
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
    /// Blob size.
    pub compressed_bytes: u64,
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
pub fn cost(image: &Image, options: &PullOptions) -> PullReport {
    cost_from(&image.info, Some(&image.layers), options)
}

/// The pull cost from the manifest alone (`layers: None`) or with the
/// scanned layer indexes.
pub fn cost_from(
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
            let compressed_bytes = index.map_or(l.compressed_bytes, |x| x.compressed_bytes);
            let uncompressed = index.map(|x| x.uncompressed_bytes);
            let sample = index.and_then(|x| x.sample);
            PullLayer {
                index: i as u32,
                digest: l.digest.clone(),
                compressed_bytes,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::DiffId;

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

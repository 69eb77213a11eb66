//! Image- and layer-level figures, and the largest files and directories.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::digest::{DiffId, Digest};
use crate::model::{Image, layer_content_bytes};
use crate::scan::{EntryKind, EntryPath, Verify};
use crate::source::Platform;

/// Image-level figures (see "What the numbers mean" in DESIGN.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageSummary {
    /// The reference as given.
    pub reference: String,
    /// The manifest digest, when there is one.
    pub manifest_digest: Option<Digest>,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// Sum of layer blob sizes: what a pull downloads. `None` when a
    /// layer's compressed size is not known (a `docker save` archive, the
    /// Docker engine): see `estimated_compressed_bytes`.
    pub compressed_bytes: Option<u64>,
    /// When `compressed_bytes` is `None`: the known compressed sizes plus
    /// what gzip at its default level would make of the other layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_compressed_bytes: Option<u64>,
    /// Sum of layer tar stream lengths.
    pub uncompressed_bytes: u64,
    /// Regular-file bytes over all layers.
    pub content_bytes: u64,
    /// Regular-file bytes of the final filesystem.
    pub final_bytes: u64,
    /// Content bytes of entries that a later entry deleted, replaced or hid.
    pub shadowed_bytes: u64,
    /// `final_bytes / content_bytes` (1 for an empty image).
    pub efficiency: f64,
    /// Regular files in the final filesystem.
    pub final_files: u64,
}

/// One layer row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerSummary {
    /// 0 = bottom.
    pub index: u32,
    /// Blob digest.
    pub digest: Digest,
    /// Uncompressed digest.
    pub diff_id: DiffId,
    /// Declared media type.
    pub media_type: String,
    /// The history entry that made the layer.
    pub created_by: Option<String>,
    /// Blob size; `None` where the source holds the layer uncompressed.
    pub compressed_bytes: Option<u64>,
    /// When `compressed_bytes` is `None`: what gzip at its default level
    /// (what `docker push` uploads) would make of the layer, measured on a
    /// sample of its stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_compressed_bytes: Option<u64>,
    /// Tar stream length.
    pub uncompressed_bytes: u64,
    /// Regular-file bytes.
    pub content_bytes: u64,
    /// Regular files.
    pub files: u64,
    /// Content bytes this layer wrote that a later entry shadowed.
    pub shadowed_bytes: u64,
}

impl ImageSummary {
    /// What a pull downloads: `compressed_bytes`, or the estimate when the
    /// source held layers uncompressed.
    pub fn pull_bytes(&self) -> u64 {
        self.compressed_bytes
            .or(self.estimated_compressed_bytes)
            .unwrap_or(0)
    }

    /// Whether [`ImageSummary::pull_bytes`] is an estimate.
    pub fn pull_estimated(&self) -> bool {
        self.compressed_bytes.is_none()
    }
}

impl LayerSummary {
    /// What a pull downloads: `compressed_bytes`, or the estimate.
    pub fn pull_bytes(&self) -> u64 {
        self.compressed_bytes
            .or(self.estimated_compressed_bytes)
            .unwrap_or(0)
    }

    /// Whether [`LayerSummary::pull_bytes`] is an estimate.
    pub fn pull_estimated(&self) -> bool {
        self.compressed_bytes.is_none()
    }
}

/// A path and its bytes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PathSize {
    /// The path (`/usr/lib`).
    pub path: String,
    /// Regular-file bytes at or under it.
    pub bytes: u64,
    /// The layer that wrote it (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<u32>,
}

/// How the layer indexes were obtained.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScanStats {
    /// Layers read and scanned in this run.
    pub layers_scanned: u32,
    /// Layers whose index came from the cache.
    pub layers_cached: u32,
    /// The verification the run applied (reported in [`Verification`]).
    #[serde(skip)]
    pub verify: Verify,
}

/// What was checked against the manifest and config (DESIGN.md
/// "Verification"): the JSON `verification` section.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verification {
    /// What the run asked of every layer: `trust` (a local archive or
    /// layout without `--verify`), `blob-digest` (a download), `diff-ids`
    /// (`--verify`: blob digests and diff ids).
    pub requested: Verify,
    /// The manifest was checked against the digest that names it (OCI
    /// layouts, Docker 25+ archives, registries; a classic `docker save`
    /// archive names it by none).
    pub manifest: bool,
    /// The config was checked against the manifest's digest of it (same
    /// sources as `manifest`).
    pub config: bool,
    /// Layers whose blob was hashed and found equal to the manifest's
    /// digest (in this run, or when their cached index was made).
    pub layer_blobs: u32,
    /// Layers whose uncompressed stream was hashed and found equal to the
    /// config's diff id.
    pub layer_diff_ids: u32,
    /// Layers whose bytes were not checked against the manifest at all.
    pub layers_unverified: u32,
}

/// The `verification` section.
pub fn verification(image: &Image, scan: &ScanStats) -> Verification {
    let mut v = Verification {
        requested: scan.verify,
        manifest: image.info.manifest_digest.is_some(),
        config: image.info.manifest_digest.is_some(),
        ..Verification::default()
    };
    for l in &image.layers {
        let blob = l.verified >= Verify::BlobDigest;
        let diff = l.verified == Verify::DiffIds
            || (blob && l.compression == crate::scan::Compression::None);
        v.layer_blobs += u32::from(blob);
        v.layer_diff_ids += u32::from(diff);
        v.layers_unverified += u32::from(!blob);
    }
    v
}

/// The image-level figures.
pub fn image(image: &Image) -> ImageSummary {
    let content_bytes = image.content_bytes();
    let final_bytes = image.final_bytes();
    let per_layer: Vec<_> = (0..image.layers.len() as u32)
        .map(|i| image.pull_bytes(i))
        .collect();
    let estimated = per_layer.iter().any(|p| p.estimated);
    let pulled = per_layer.iter().map(|p| p.bytes).sum();
    ImageSummary {
        reference: image.info.reference.clone(),
        manifest_digest: image.info.manifest_digest.clone(),
        platform: display_platform(&image.info.platform),
        compressed_bytes: (!estimated).then_some(pulled),
        estimated_compressed_bytes: estimated.then_some(pulled),
        uncompressed_bytes: image.layers.iter().map(|l| l.uncompressed_bytes).sum(),
        content_bytes,
        final_bytes,
        shadowed_bytes: image.shadowed_bytes(),
        efficiency: if content_bytes == 0 {
            1.0
        } else {
            final_bytes as f64 / content_bytes as f64
        },
        final_files: image
            .final_entries()
            .filter(|(_, e)| e.kind == EntryKind::File)
            .count() as u64,
    }
}

fn display_platform(p: &Platform) -> String {
    if p.os.is_empty() && p.architecture.is_empty() {
        String::new()
    } else {
        p.to_string()
    }
}

/// One row per layer.
pub fn layers(image: &Image) -> Vec<LayerSummary> {
    let mut shadowed = vec![0u64; image.layers.len()];
    for s in &image.shadowed {
        shadowed[s.loc.layer as usize] += image.entry(s.loc).size;
    }
    image
        .layers
        .iter()
        .zip(&image.info.layers)
        .enumerate()
        .map(|(i, (index, info))| {
            let pulled = image.pull_bytes(i as u32);
            LayerSummary {
                index: i as u32,
                digest: index.digest.clone(),
                diff_id: index.diff_id.clone(),
                media_type: info.media_type.clone(),
                created_by: info.created_by.clone(),
                compressed_bytes: (!pulled.estimated).then_some(pulled.bytes),
                estimated_compressed_bytes: pulled.estimated.then_some(pulled.bytes),
                uncompressed_bytes: index.uncompressed_bytes,
                content_bytes: layer_content_bytes(index),
                files: index
                    .entries
                    .iter()
                    .filter(|e| e.kind == EntryKind::File)
                    .count() as u64,
                shadowed_bytes: shadowed[i],
            }
        })
        .collect()
}

/// The `top` largest regular files of the final filesystem.
pub fn largest_files(image: &Image, top: usize) -> Vec<PathSize> {
    // Hard links: a file counts once, at its first surviving path.
    let files: Vec<((&EntryPath, u32), u64)> = image
        .final_du()
        .filter(|(_, e, _)| matches!(e.kind, EntryKind::File | EntryKind::HardLink))
        .map(|(loc, e, bytes)| ((&e.path, loc.layer), bytes))
        .collect();
    super::largest_n(files, top)
        .into_iter()
        .map(|((path, layer), bytes)| PathSize {
            path: path.display(),
            bytes,
            layer: Some(layer),
        })
        .collect()
}

/// Directories at most this deep are ranked (deeper ones repeat their parents).
const DIR_DEPTH: usize = 4;

/// The `top` largest directories (up to four levels deep) of the final
/// filesystem, by the regular-file bytes under them.
pub fn largest_directories(image: &Image, top: usize) -> Vec<PathSize> {
    let mut sizes: HashMap<&[u8], u64> = HashMap::new();
    for (_, e, size) in image.final_du() {
        if size == 0 {
            continue;
        }
        let bytes = e.path.as_bytes();
        for (depth, (i, _)) in bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'/')
            .enumerate()
        {
            if depth >= DIR_DEPTH {
                break;
            }
            *sizes.entry(&bytes[..i]).or_default() += size;
        }
    }
    let mut dirs: Vec<PathSize> = sizes
        .into_iter()
        .map(|(p, bytes)| PathSize {
            path: crate::scan::EntryPath::normalize(p).display(),
            bytes,
            layer: None,
        })
        .collect();
    dirs.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    dirs.truncate(top);
    dirs
}

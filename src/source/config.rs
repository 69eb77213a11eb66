//! The JSON documents of an image: manifests, indexes and configs, in both
//! the OCI and the Docker v2 dialects, parsed leniently (unknown fields are
//! ignored, missing optional ones default).

use serde::{Deserialize, Serialize};

use super::{ImageInfo, LayerInfo, Platform, SourceError};
use crate::digest::{DiffId, Digest};

/// A content descriptor (`mediaType`, `digest`, `size`, ...).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Declared media type.
    #[serde(default)]
    pub media_type: String,
    /// The blob digest.
    pub digest: Digest,
    /// The blob size in bytes.
    #[serde(default)]
    pub size: u64,
    /// The platform, in index entries.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// Annotations (`org.opencontainers.image.ref.name`, ...).
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An image manifest (OCI or Docker v2 schema 2).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Declared media type (may be absent in OCI manifests).
    #[serde(default)]
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// An image index or Docker manifest list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Declared media type.
    #[serde(default)]
    pub media_type: String,
    /// The manifests (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// Either document, told apart by its shape.
#[derive(Clone, Debug)]
pub enum ManifestOrIndex {
    /// A single-platform manifest.
    Manifest(Manifest),
    /// An index of manifests.
    Index(Index),
}

/// Media types of indexes.
pub const INDEX_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

impl ManifestOrIndex {
    /// Parses a manifest or an index from its JSON bytes; `input` names the
    /// source for errors.
    pub fn parse(input: &str, bytes: &[u8]) -> Result<Self, SourceError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| SourceError::invalid(input, format!("manifest is not JSON: {e}")))?;
        let is_index = value.get("manifests").is_some()
            || value
                .get("mediaType")
                .and_then(|m| m.as_str())
                .is_some_and(|m| INDEX_MEDIA_TYPES.contains(&m));
        if is_index {
            serde_json::from_value(value)
                .map(ManifestOrIndex::Index)
                .map_err(|e| SourceError::invalid(input, format!("bad image index: {e}")))
        } else {
            serde_json::from_value(value)
                .map(ManifestOrIndex::Manifest)
                .map_err(|e| SourceError::invalid(input, format!("bad image manifest: {e}")))
        }
    }
}

/// The parts of an image config that layerscope uses.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ImageConfig {
    /// `os`.
    #[serde(default)]
    pub os: String,
    /// `architecture`.
    #[serde(default)]
    pub architecture: String,
    /// `variant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// `created`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `config` (environment, entrypoint, working dir ...).
    #[serde(default)]
    pub config: RuntimeConfig,
    /// `rootfs`.
    #[serde(default)]
    pub rootfs: RootFs,
    /// `history`, one entry per instruction, bottom first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

/// The runtime part of a config.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    /// Environment, `KEY=value`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    /// Working directory.
    #[serde(default, deserialize_with = "null_as_default")]
    pub working_dir: String,
    /// User.
    #[serde(default, deserialize_with = "null_as_default")]
    pub user: String,
}

/// `rootfs` of a config.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RootFs {
    /// The uncompressed digests of the layers.
    #[serde(default)]
    pub diff_ids: Vec<DiffId>,
}

/// One `history` entry.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct HistoryEntry {
    /// The instruction, e.g. `RUN /bin/sh -c pip install ... # buildkit`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub created_by: String,
    /// True when the instruction made no layer (ENV, CMD, ...).
    #[serde(default)]
    pub empty_layer: bool,
    /// `comment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl ImageConfig {
    /// Parses a config blob.
    pub fn parse(input: &str, bytes: &[u8]) -> Result<Self, SourceError> {
        serde_json::from_slice(bytes)
            .map_err(|e| SourceError::invalid(input, format!("bad image config: {e}")))
    }

    /// The platform the config declares.
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        }
    }

    /// The `created_by` of each layer: non-empty history entries in order
    /// map to layers in order. `None` where history is missing or short.
    pub fn layer_history(&self, layers: usize) -> Vec<Option<String>> {
        let mut out: Vec<Option<String>> = self
            .history
            .iter()
            .filter(|h| !h.empty_layer)
            .map(|h| Some(h.created_by.clone()))
            .collect();
        // When history has more non-empty entries than layers, the extra are
        // at the bottom (e.g. a squashed base); align from the top.
        if out.len() > layers {
            out.drain(..out.len() - layers);
        }
        out.resize(layers, None);
        out
    }
}

impl ImageInfo {
    /// Assembles the description from a manifest's layer descriptors and the
    /// parsed config.
    pub fn assemble(
        reference: String,
        manifest_digest: Option<Digest>,
        layers: &[Descriptor],
        config: ImageConfig,
    ) -> Result<ImageInfo, SourceError> {
        if !config.rootfs.diff_ids.is_empty() && config.rootfs.diff_ids.len() != layers.len() {
            return Err(SourceError::invalid(
                &reference,
                format!(
                    "the manifest lists {} layers but the config has {} diff ids",
                    layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            ));
        }
        let history = config.layer_history(layers.len());
        let layers = layers
            .iter()
            .zip(history)
            .enumerate()
            .map(|(i, (d, created_by))| LayerInfo {
                digest: d.digest.clone(),
                diff_id: config.rootfs.diff_ids.get(i).cloned(),
                media_type: d.media_type.clone(),
                compressed_bytes: d.size,
                created_by,
            })
            .collect();
        Ok(ImageInfo {
            reference,
            manifest_digest,
            platform: config.platform(),
            config,
            layers,
        })
    }
}

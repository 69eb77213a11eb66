//! Sources turn an image reference into a manifest-level description
//! ([`ImageInfo`]) and one byte stream per layer.
//!
//! Every transport implements [`ImageSource`]; nothing downstream knows which
//! one it is reading. Transports follow the containers/skopeo convention, see
//! [`reference::Reference`].

pub mod archive;
pub mod config;
pub mod daemon;
pub mod docker_archive;
pub mod layout;
mod legacy_archive;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod spool;
pub mod storage;
mod tar_split;

use std::io::Read;
use std::path::PathBuf;

use serde::Serialize;

pub use config::{HistoryEntry, ImageConfig};
pub use platform::Platform;
pub use reference::Reference;

use crate::digest::{DiffId, Digest};

/// A readable image: its description and a way to open each layer's blob.
///
/// Implementations must be cheap to share between threads: layers are opened
/// and scanned in parallel.
pub trait ImageSource: Send + Sync {
    /// The manifest-level description of the image.
    fn info(&self) -> &ImageInfo;

    /// Opens layer `index` (0 = bottom) as its blob stream, exactly as stored
    /// (compressed or not). The scanner verifies the digest while reading.
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, SourceError>;

    /// Whether the layers come over the network (a registry): their blobs
    /// are then always verified (DESIGN.md "Verification"). Local archives
    /// and layouts are trusted unless `--verify` asks.
    fn downloaded(&self) -> bool {
        false
    }
}

/// What a manifest and a config say about an image, before any layer is read.
#[derive(Clone, Debug, Serialize)]
pub struct ImageInfo {
    /// The reference as the user gave it (normalised for registries).
    pub reference: String,
    /// The digest of the manifest that was resolved, when there is one
    /// (a classic `docker save` archive has none).
    pub manifest_digest: Option<Digest>,
    /// The platform of the resolved manifest.
    pub platform: Platform,
    /// The image config (history, diff ids, environment).
    pub config: ImageConfig,
    /// The layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// What the source ignored or could not honour, one sentence each
    /// (a `--platform` the image does not have, foreign layers skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One layer as the manifest describes it.
#[derive(Clone, Debug, Serialize)]
pub struct LayerInfo {
    /// The blob digest (for an uncompressed classic archive layer, the
    /// sha256 of `layer.tar`, which equals the diff id).
    pub digest: Digest,
    /// The uncompressed digest from the config's `rootfs.diff_ids`.
    pub diff_id: Option<DiffId>,
    /// The media type the manifest declares (informational: compression is
    /// sniffed from the bytes).
    pub media_type: String,
    /// The size of the blob as the source stores it: what is read.
    pub blob_bytes: u64,
    /// What a pull downloads: the blob size, or `None` where the source
    /// holds the layer uncompressed and a registry would get it compressed
    /// (a `docker save` archive, the Docker engine); the analysis then
    /// estimates it (DESIGN.md "What the numbers mean").
    pub compressed_bytes: Option<u64>,
    /// The history entry that created this layer, if the config has one.
    pub created_by: Option<String>,
}

impl LayerInfo {
    /// A layer whose blob, of `blob_bytes`, is what a pull downloads
    /// (no diff id, media type or history: for tests and tools).
    pub fn blob(digest: Digest, blob_bytes: u64) -> LayerInfo {
        LayerInfo {
            digest,
            diff_id: None,
            media_type: String::new(),
            blob_bytes,
            compressed_bytes: Some(blob_bytes),
            created_by: None,
        }
    }
}

/// How to open an image: everything a source may need besides the reference.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// The platform to pick from a multi-platform index (default: the host's).
    pub platform: Option<Platform>,
    /// Registry settings (auth, TLS).
    pub registry: RegistryOptions,
}

/// Registry connection settings.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// `--username`.
    pub username: Option<String>,
    /// The password read from `--password-stdin`. Never printed.
    pub password: Option<String>,
    /// Extra CA certificates (`--ca-cert`, PEM files).
    pub ca_certs: Vec<PathBuf>,
    /// Registries (`HOST[:PORT]`) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// `--tls-verify=false` (skopeo, podman): every registry may use plain
    /// HTTP and any certificate.
    pub tls_verify_disabled: bool,
    /// A containers `auth.json` (`--authfile`, `REGISTRY_AUTH_FILE`), read
    /// before the docker config.
    pub authfile: Option<PathBuf>,
}

/// Why an image could not be opened or a layer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file or directory does not exist or cannot be read.
    #[error("cannot read `{path}`")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The input exists but is not an image of the expected kind.
    #[error("`{input}` is not a valid image: {reason}")]
    Invalid {
        /// The input.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A blob the manifest names is not in the archive or layout.
    #[error("`{input}` names blob {digest} but does not contain it")]
    MissingBlob {
        /// The input.
        input: String,
        /// The missing blob.
        digest: String,
    },
    /// No manifest in an index matches the requested platform.
    #[error("`{input}` has no image for platform {wanted}; it has: {available}")]
    NoPlatform {
        /// The input.
        input: String,
        /// The platform asked for.
        wanted: String,
        /// The platforms present, comma-separated.
        available: String,
    },
    /// The manifest is an OCI artifact (a chart, a signature, an SBOM).
    #[error("`{input}` is not a container image: its media type is {media_type}")]
    NotAnImage {
        /// The input.
        input: String,
        /// The artifact type, config or layer media type that says so.
        media_type: String,
    },
    /// An archive or layout holds several images and none was named.
    #[error("`{input}` holds {count} images; name one: {choices}")]
    Ambiguous {
        /// The input.
        input: String,
        /// How many.
        count: usize,
        /// How to name each, comma-separated.
        choices: String,
    },
    /// The image named inside an archive or layout is not there.
    #[error("`{input}` has no image `{wanted}`; it has: {choices}")]
    NoSuchImage {
        /// The input.
        input: String,
        /// The name or `@N` asked for.
        wanted: String,
        /// What there is, comma-separated.
        choices: String,
    },
    /// A reference that cannot be parsed.
    #[error("`{0}` is not an image reference")]
    BadReference(String),
    /// A `TRANSPORT:REST` reference whose transport is not one we read.
    #[error("`{input}`: unknown transport `{transport}:`")]
    UnknownTransport {
        /// The reference as given.
        input: String,
        /// The transport named.
        transport: String,
    },
    /// The image or tag does not exist.
    #[error("`{0}` not found")]
    NotFound(String),
    /// A registry or daemon refused or failed.
    #[error("{0}")]
    Remote(String),
}

impl SourceError {
    /// Shorthand for [`SourceError::Invalid`].
    pub fn invalid(input: impl Into<String>, reason: impl Into<String>) -> Self {
        SourceError::Invalid {
            input: input.into(),
            reason: reason.into(),
        }
    }
}

/// `text` with control characters escaped (`\x1b`, `\n`, ...) and cut to
/// `max` characters: names read from an image are printed only this way.
pub fn escape(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Opens `reference` with the transport it names (see [`Reference::parse`]).
pub fn open(reference: &str, options: &SourceOptions) -> Result<Box<dyn ImageSource>, SourceError> {
    match Reference::parse(reference)? {
        Reference::DockerArchive { path, image } => Ok(Box::new(
            docker_archive::DockerArchive::open(&path, image.as_ref(), options)?,
        )),
        Reference::OciArchive { path, tag } => Ok(Box::new(archive::OciArchive::open(
            &path,
            tag.as_deref(),
            options,
        )?)),
        Reference::OciLayout { dir, tag } => Ok(Box::new(layout::OciLayout::open(
            &dir,
            tag.as_deref(),
            options,
        )?)),
        Reference::DockerDaemon(name) => daemon::open(&name, options),
        Reference::ContainersStorage(rest) => {
            Ok(Box::new(storage::StorageImage::open(&rest, options)?))
        }
        Reference::Registry(name) => registry::open(&name, options),
        Reference::Archive(path) => archive::open_detected(&path, options),
    }
}

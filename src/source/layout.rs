//! OCI image layouts (`oci:DIR[:TAG]`), and the resolution logic every
//! layout-shaped source shares: `index.json`, nested indexes, tags by
//! `org.opencontainers.image.ref.name`, platform choice, manifest, config.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::config::{Descriptor, ImageConfig, ManifestOrIndex};
use super::platform;
use super::{ImageInfo, ImageSource, Platform, SourceError, SourceOptions};
use crate::digest::Digest;

/// Documents (manifests, configs) larger than this are refused.
const MAX_DOCUMENT: u64 = 16 << 20;

/// Somewhere blobs can be read by their path inside a layout.
pub trait Blobs: Send + Sync {
    /// The input, for error messages.
    fn input(&self) -> &str;
    /// Opens the file at `name` (relative to the layout root).
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>, SourceError>;
    /// Whether `name` exists.
    fn exists(&self, name: &str) -> bool;

    /// Reads a small document whole.
    fn read_document(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        let mut out = Vec::new();
        self.open(name)?
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut out)
            .map_err(|e| SourceError::invalid(self.input(), format!("reading `{name}`: {e}")))?;
        if out.len() as u64 > MAX_DOCUMENT {
            return Err(SourceError::invalid(
                self.input(),
                format!("`{name}` is too large to be a manifest or config"),
            ));
        }
        Ok(out)
    }
}

/// The path of a blob inside a layout.
pub fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}", digest.as_str().replacen(':', "/", 1))
}

/// A layout-shaped image: the resolved description plus where its blobs are.
pub struct LayoutImage<B> {
    blobs: B,
    info: ImageInfo,
    /// Where each layer's blob is inside the layout.
    layer_paths: Vec<String>,
}

impl<B: Blobs> LayoutImage<B> {
    /// Resolves the image in the layout `blobs` (starting at `index.json`).
    pub fn resolve(
        blobs: B,
        reference: String,
        tag: Option<&str>,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let (info, layer_paths) = resolve_info(&blobs, reference, tag, options)?;
        Ok(LayoutImage {
            blobs,
            info,
            layer_paths,
        })
    }

    /// An image whose description was built elsewhere (classic `docker save`).
    pub fn from_parts(blobs: B, info: ImageInfo, layer_paths: Vec<String>) -> Self {
        LayoutImage {
            blobs,
            info,
            layer_paths,
        }
    }
}

/// Resolves the image description of a layout, and where its layer blobs are.
pub fn resolve_info<B: Blobs + ?Sized>(
    blobs: &B,
    reference: String,
    tag: Option<&str>,
    options: &SourceOptions,
) -> Result<(ImageInfo, Vec<String>), SourceError> {
    {
        let input = blobs.input().to_owned();
        if !blobs.exists("index.json") {
            return Err(SourceError::invalid(
                &input,
                "no `index.json` (not an OCI image layout)",
            ));
        }
        let bytes = blobs.read_document("index.json")?;
        let ManifestOrIndex::Index(index) = ManifestOrIndex::parse(&input, &bytes)? else {
            return Err(SourceError::invalid(
                &input,
                "`index.json` is not an image index",
            ));
        };
        let mut candidates: Vec<Descriptor> = index.manifests;
        if let Some(tag) = tag {
            candidates.retain(|d| ref_name_matches(d, tag));
            if candidates.is_empty() {
                return Err(SourceError::NotFound(format!("{input}:{tag}")));
            }
        }
        let wanted = options.platform.clone().unwrap_or_else(Platform::host);
        let descriptor = choose(
            blobs,
            &input,
            candidates,
            &wanted,
            options.platform.is_some(),
            0,
        )?;
        let manifest_bytes = read_blob(blobs, &descriptor.digest)?;
        let ManifestOrIndex::Manifest(manifest) = ManifestOrIndex::parse(&input, &manifest_bytes)?
        else {
            return Err(SourceError::invalid(&input, "expected an image manifest"));
        };
        let config_bytes = read_blob(blobs, &manifest.config.digest)?;
        let config = ImageConfig::parse(&input, &config_bytes)?;
        let layer_paths = manifest
            .layers
            .iter()
            .map(|l| blob_path(&l.digest))
            .collect::<Vec<_>>();
        for (layer, path) in manifest.layers.iter().zip(&layer_paths) {
            if !blobs.exists(path) {
                return Err(SourceError::MissingBlob {
                    input,
                    digest: layer.digest.to_string(),
                });
            }
        }
        let info = ImageInfo::assemble(
            reference,
            Some(descriptor.digest.clone()),
            &manifest.layers,
            config,
        )?;
        Ok((info, layer_paths))
    }
}

impl<B: Blobs> ImageSource for LayoutImage<B> {
    fn info(&self) -> &ImageInfo {
        &self.info
    }

    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        let path = self
            .layer_paths
            .get(index)
            .ok_or_else(|| SourceError::invalid(self.blobs.input(), format!("no layer {index}")))?;
        self.blobs.open(path)
    }
}

fn ref_name_matches(d: &Descriptor, tag: &str) -> bool {
    d.annotations
        .get("org.opencontainers.image.ref.name")
        .is_some_and(|n| n == tag || n.ends_with(&format!(":{tag}")))
        || d.annotations
            .get("io.containerd.image.name")
            .is_some_and(|n| n == tag || n.ends_with(&format!(":{tag}")))
}

/// Reads a blob by digest, verifying it.
pub fn read_blob<B: Blobs + ?Sized>(blobs: &B, digest: &Digest) -> Result<Vec<u8>, SourceError> {
    let path = blob_path(digest);
    if !blobs.exists(&path) {
        return Err(SourceError::MissingBlob {
            input: blobs.input().to_owned(),
            digest: digest.to_string(),
        });
    }
    let bytes = blobs.read_document(&path)?;
    if !digest.matches(&bytes) {
        return Err(SourceError::invalid(
            blobs.input(),
            format!("blob {digest} does not match its digest"),
        ));
    }
    Ok(bytes)
}

/// Walks indexes down to one manifest descriptor for `wanted`.
fn choose<B: Blobs + ?Sized>(
    blobs: &B,
    input: &str,
    candidates: Vec<Descriptor>,
    wanted: &Platform,
    explicit: bool,
    depth: usize,
) -> Result<Descriptor, SourceError> {
    if depth > 4 {
        return Err(SourceError::invalid(
            input,
            "image indexes nested too deeply",
        ));
    }
    // Attestation manifests (BuildKit's `unknown/unknown`) are not images.
    let candidates: Vec<Descriptor> = candidates
        .into_iter()
        .filter(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown"))
        .collect();
    if candidates.is_empty() {
        return Err(SourceError::invalid(
            input,
            "the image index lists no manifests",
        ));
    }
    let platforms: Vec<Platform> = candidates
        .iter()
        .map(|d| d.platform.clone().unwrap_or_default())
        .collect();
    let picked = if platforms.iter().all(|p| p.os.is_empty()) {
        // Entries without platforms (a plain tagged image): take the first.
        candidates[0].clone()
    } else {
        match platform::choose(wanted, &platforms) {
            Some(i) => candidates[i].clone(),
            None if candidates.len() == 1 && !explicit => candidates[0].clone(),
            None => {
                return Err(SourceError::NoPlatform {
                    input: input.to_owned(),
                    wanted: wanted.to_string(),
                    available: platforms
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    };
    let bytes = read_blob(blobs, &picked.digest)?;
    match ManifestOrIndex::parse(input, &bytes)? {
        ManifestOrIndex::Manifest(_) => Ok(picked),
        ManifestOrIndex::Index(inner) => {
            choose(blobs, input, inner.manifests, wanted, explicit, depth + 1)
        }
    }
}

/// A layout on disk.
pub struct Dir {
    root: PathBuf,
    input: String,
}

impl Blobs for Dir {
    fn input(&self) -> &str {
        &self.input
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        let path = self.root.join(name);
        let file = File::open(&path).map_err(|source| SourceError::Io { path, source })?;
        Ok(Box::new(BufReader::with_capacity(64 << 10, file)))
    }

    fn exists(&self, name: &str) -> bool {
        self.root.join(name).is_file()
    }
}

/// `oci:DIR[:TAG]`.
pub type OciLayout = LayoutImage<Dir>;

impl LayoutImage<Dir> {
    /// Opens an OCI layout directory.
    pub fn open(
        dir: &Path,
        tag: Option<&str>,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        if !dir.is_dir() {
            return Err(SourceError::Io {
                path: dir.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
            });
        }
        let input = format!("oci:{}", dir.display());
        let reference = match tag {
            Some(t) => format!("{input}:{t}"),
            None => input.clone(),
        };
        LayoutImage::resolve(
            Dir {
                root: dir.to_owned(),
                input,
            },
            reference,
            tag,
            options,
        )
    }
}

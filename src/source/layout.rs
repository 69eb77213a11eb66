//! OCI image layouts (`oci:DIR[:TAG]`), and the resolution logic every
//! layout-shaped source shares: `index.json`, nested indexes, tags by
//! `org.opencontainers.image.ref.name`, platform choice, manifest, config.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::config::{Descriptor, ImageConfig, MAX_DOCUMENT, ManifestOrIndex, is_foreign_layer};
use super::platform;
use super::{ImageInfo, ImageSource, Platform, SourceError, SourceOptions, escape};
use crate::digest::Digest;

/// Somewhere blobs can be read by their path inside a layout.
pub trait Blobs: Send + Sync {
    /// The input, for error messages.
    fn input(&self) -> &str;
    /// Opens the file at `name` (relative to the layout root).
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>, SourceError>;
    /// Whether `name` exists.
    fn exists(&self, name: &str) -> bool;

    /// Reads a small document whole (at most [`MAX_DOCUMENT`] bytes).
    fn read_document(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        let mut out = Vec::new();
        self.open(name)?
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                SourceError::invalid(
                    self.input(),
                    format!("reading `{}`: {e}", escape(name, 200)),
                )
            })?;
        if out.len() as u64 > MAX_DOCUMENT {
            return Err(SourceError::invalid(
                self.input(),
                format!(
                    "`{}` is over the {} MiB limit for a manifest, index or config",
                    escape(name, 200),
                    MAX_DOCUMENT >> 20
                ),
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
    /// Resolves the image in the layout `blobs` (starting at `index.json`);
    /// `tag` picks one by `org.opencontainers.image.ref.name` (or `@N`, the
    /// N-th entry of `index.json`).
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

    /// The blob store.
    pub fn blobs(&self) -> &B {
        &self.blobs
    }
}

/// Reads and parses `index.json`.
pub fn read_index<B: Blobs + ?Sized>(blobs: &B) -> Result<Vec<Descriptor>, SourceError> {
    let input = blobs.input();
    if !blobs.exists("index.json") {
        return Err(SourceError::invalid(
            input,
            "no `index.json` (not an OCI image layout)",
        ));
    }
    let bytes = blobs.read_document("index.json")?;
    match ManifestOrIndex::parse(input, &bytes)? {
        ManifestOrIndex::Index(index) => Ok(index.manifests),
        ManifestOrIndex::Manifest(_) => Err(SourceError::invalid(
            input,
            "`index.json` is not an image index",
        )),
    }
}

/// Resolves the image description of a layout, and where its layer blobs are.
pub fn resolve_info<B: Blobs + ?Sized>(
    blobs: &B,
    reference: String,
    tag: Option<&str>,
    options: &SourceOptions,
) -> Result<(ImageInfo, Vec<String>), SourceError> {
    let input = blobs.input().to_owned();
    let candidates = pick_image(&input, read_index(blobs)?, tag)?;
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
    manifest.check_is_image(&input)?;
    let config_bytes = read_blob(blobs, &manifest.config.digest)?;
    let config = ImageConfig::parse(&input, &config_bytes)?;
    let mut info = ImageInfo::assemble(
        reference,
        Some(descriptor.digest.clone()),
        &manifest.layers,
        config,
    )?;
    let mut layer_paths = Vec::with_capacity(manifest.layers.len());
    let mut kept = Vec::with_capacity(manifest.layers.len());
    for (layer, info_layer) in manifest.layers.iter().zip(std::mem::take(&mut info.layers)) {
        let path = blob_path(&layer.digest);
        if blobs.exists(&path) {
            layer_paths.push(path);
            kept.push(info_layer);
        } else if is_foreign_layer(&layer.media_type) {
            info.warnings.push(foreign_warning(layer));
        } else {
            return Err(SourceError::MissingBlob {
                input,
                digest: layer.digest.to_string(),
            });
        }
    }
    info.layers = kept;
    if let Some(w) = platform_warning(options, &info.platform) {
        info.warnings.push(w);
    }
    Ok((info, layer_paths))
}

/// The warning for a foreign or non-distributable layer left out, as
/// skopeo leaves it out: its files are not in any figure.
pub fn foreign_warning(layer: &Descriptor) -> String {
    format!(
        "skipped foreign layer {} ({}, {} bytes): its blob is not in the image, so its files are in no figure",
        layer.digest,
        escape(&layer.media_type, 120),
        layer.size
    )
}

/// A warning when `--platform` names a platform a single-platform image
/// does not have. containers/image (skopeo, podman) and Docker warn here
/// rather than fail: the image is what the user pointed at, and its bytes
/// are worth analysing; the report says which platform they are.
pub fn platform_warning(options: &SourceOptions, actual: &Platform) -> Option<String> {
    let wanted = options.platform.as_ref()?;
    if actual.os.is_empty() || wanted.matches(actual) {
        return None;
    }
    Some(format!(
        "--platform {wanted} was asked for, but the image is single-platform {actual}: analysed as it is"
    ))
}

/// The `ref.name` of an index entry, if it has one.
fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations
        .get("org.opencontainers.image.ref.name")
        .or_else(|| d.annotations.get("io.containerd.image.name"))
        .map(String::as_str)
}

/// Narrows `index.json`'s entries to the one image asked for: by tag, by
/// `@N`, or the only one there is. Entries that share a name (or have none
/// but a platform) are the platforms of one image; other untagged entries
/// are images of their own. Several images and none named is an error that
/// lists them, as skopeo does.
fn pick_image(
    input: &str,
    entries: Vec<Descriptor>,
    tag: Option<&str>,
) -> Result<Vec<Descriptor>, SourceError> {
    let images = images_of(&entries);
    let choices = || {
        images
            .iter()
            .map(|(key, first)| match key {
                Some(name) => format!("{input}:{}", escape(name, 200)),
                None => format!("{input}:@{first}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match tag {
        Some(tag) => {
            if let Some(n) = tag.strip_prefix('@').and_then(|n| n.parse::<usize>().ok()) {
                return match entries.get(n) {
                    Some(d) => Ok(vec![d.clone()]),
                    None => Err(SourceError::NoSuchImage {
                        input: input.to_owned(),
                        wanted: tag.to_owned(),
                        choices: choices(),
                    }),
                };
            }
            let picked: Vec<Descriptor> = entries
                .iter()
                .filter(|d| ref_name(d).is_some_and(|n| tag_matches(n, tag)))
                .cloned()
                .collect();
            if picked.is_empty() {
                return Err(SourceError::NoSuchImage {
                    input: input.to_owned(),
                    wanted: escape(tag, 200),
                    choices: choices(),
                });
            }
            Ok(picked)
        }
        None if images.len() > 1 => Err(SourceError::Ambiguous {
            input: input.to_owned(),
            count: images.len(),
            choices: choices(),
        }),
        None => Ok(entries),
    }
}

/// The distinct images among index entries: (name, position of the first
/// entry). Untagged entries with a platform group together.
fn images_of(entries: &[Descriptor]) -> Vec<(Option<String>, usize)> {
    let mut out: Vec<(Option<String>, usize)> = Vec::new();
    let mut platformed_untagged = false;
    for (i, d) in entries.iter().enumerate() {
        match ref_name(d) {
            Some(name) => {
                if !out.iter().any(|(k, _)| k.as_deref() == Some(name)) {
                    out.push((Some(name.to_owned()), i));
                }
            }
            None if d.platform.is_some() => {
                if !platformed_untagged {
                    platformed_untagged = true;
                    out.push((None, i));
                }
            }
            None => out.push((None, i)),
        }
    }
    out
}

fn tag_matches(name: &str, tag: &str) -> bool {
    name == tag || name.ends_with(&format!(":{tag}"))
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
    // Entries without a platform are listed by digest, never as "/".
    let listed = |i: usize| match &candidates[i].platform {
        Some(p) if !p.os.is_empty() => p.to_string(),
        _ => format!("{} (no platform)", candidates[i].digest.short()),
    };
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
                    available: (0..candidates.len())
                        .map(listed)
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

/// A layout on disk. Every file it opens must be a regular file inside
/// the layout: a symlink may point at another blob, never out of the
/// directory (to `/etc/shadow`, `/proc/self/environ`), and FIFOs and
/// devices are refused before they are opened (a FIFO would hang the run).
pub struct Dir {
    root: PathBuf,
    /// `root` with every symlink resolved, to compare resolved paths with.
    real_root: PathBuf,
    input: String,
}

impl Dir {
    /// The resolved path of `name`, if it is a regular file in the layout.
    fn checked(&self, name: &str) -> Result<PathBuf, SourceError> {
        let path = self.root.join(name);
        let shown = escape(name, 200);
        let real = std::fs::canonicalize(&path).map_err(|source| SourceError::Io {
            path: path.clone(),
            source,
        })?;
        if !real.starts_with(&self.real_root) {
            return Err(SourceError::invalid(
                &self.input,
                format!("`{shown}` is a symlink that leads out of the layout; refused"),
            ));
        }
        let meta = std::fs::metadata(&real).map_err(|source| SourceError::Io { path, source })?;
        if !meta.is_file() {
            return Err(SourceError::invalid(
                &self.input,
                format!("`{shown}` is not a regular file (a directory, FIFO or device); refused"),
            ));
        }
        Ok(real)
    }
}

impl Blobs for Dir {
    fn input(&self) -> &str {
        &self.input
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        let path = self.checked(name)?;
        let file = File::open(&path).map_err(|source| SourceError::Io {
            path: path.clone(),
            source,
        })?;
        // Replaced between the check and the open: refuse all the same.
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(SourceError::invalid(
                &self.input,
                format!("`{}` is not a regular file; refused", escape(name, 200)),
            ));
        }
        Ok(Box::new(BufReader::with_capacity(64 << 10, file)))
    }

    /// Anything at `name`, even what [`Blobs::open`] will refuse: a blob
    /// that is there but unfit is refused by name, not reported missing.
    fn exists(&self, name: &str) -> bool {
        std::fs::symlink_metadata(self.root.join(name)).is_ok()
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
        let real_root = std::fs::canonicalize(dir).map_err(|source| SourceError::Io {
            path: dir.to_owned(),
            source,
        })?;
        LayoutImage::resolve(
            Dir {
                root: dir.to_owned(),
                real_root,
                input,
            },
            reference,
            tag,
            options,
        )
    }
}

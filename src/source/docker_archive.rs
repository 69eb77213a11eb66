//! `docker-archive:FILE[:REF|:@N]`: what `docker save` writes (classic
//! `<id>/layer.tar`, Docker 25+ with OCI blobs, and the pre-1.10 layout
//! with only `repositories` and per-layer `json`), and what
//! go-containerregistry's tarball writer (`crane pull`, kaniko
//! `--tarPath`) writes: compressed `<hex>.tar.gz` layers and
//! `LayerSources` for foreign layers it leaves out.
//!
//! `manifest.json` is what `docker load` reads, so it decides which image
//! and which layers; a Docker 25+ `index.json` only adds the manifest
//! digest and media types when it describes the same image.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::archive::TarMembers;
use super::config::{
    Descriptor, ImageConfig, ManifestOrIndex, check_json, is_foreign_layer, parse_json,
};
use super::layout::{Blobs, LayoutImage, foreign_warning, platform_warning, read_index};
use super::reference::ArchiveImage;
use super::spool::Spool;
use super::{ImageInfo, ImageSource, LayerInfo, SourceError, SourceOptions, escape};
use crate::digest::{DiffId, Digest};

/// `docker-archive:FILE`.
pub struct DockerArchive(LayoutImage<TarMembers>);

/// An entry of `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
    /// go-containerregistry: descriptors of foreign layers, by diff id.
    #[serde(default)]
    layer_sources: Option<BTreeMap<DiffId, Descriptor>>,
}

/// Media types given to layers read from an archive, by sniffed compression.
const TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
const TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

impl DockerArchive {
    /// Opens a `docker save` archive (`-` reads it from stdin); `image`
    /// picks one of several.
    pub fn open(
        path: &Path,
        image: Option<&ArchiveImage>,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let input = format!("docker-archive:{}", path.display());
        let members = TarMembers::open(path, input.clone())?;
        Self::from_members(members, input, image, options)
    }

    /// Opens a `docker save` stream already spooled to a temporary file
    /// (the Docker Engine API's export); the file lives as long as the
    /// archive. `input` names the image in messages.
    pub fn from_spool(
        spool: Spool,
        input: String,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let members = TarMembers::from_spool(spool, input.clone())?;
        Self::from_members(members, input, None, options)
    }

    pub(super) fn from_members(
        members: TarMembers,
        input: String,
        image: Option<&ArchiveImage>,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        if !members.exists("manifest.json") {
            if members.exists("index.json") {
                // An OCI archive given as a docker archive: read it as one.
                let tag = image.map(ToString::to_string);
                return LayoutImage::resolve(members, input, tag.as_deref(), options)
                    .map(DockerArchive);
            }
            if members.exists("repositories") {
                return super::legacy_archive::open(members, input, image, options)
                    .map(DockerArchive);
            }
            return Err(SourceError::invalid(
                &input,
                "no `manifest.json` (not a `docker save` archive)",
            ));
        }
        let bytes = members.read_document("manifest.json")?;
        let saved: Vec<SaveManifest> = parse_json(&input, "`manifest.json`", &bytes)?;
        let tags: Vec<Vec<String>> = saved
            .iter()
            .map(|m| m.repo_tags.clone().unwrap_or_default())
            .collect();
        let n = select(&input, &tags, image)?;
        let Some(chosen) = saved.into_iter().nth(n) else {
            return Err(SourceError::invalid(
                &input,
                "`manifest.json` lists no image",
            ));
        };
        let reference = reference_name(&input, image, &tags[n]);
        let (info, paths) = describe(&members, &input, reference, chosen, options)?;
        Ok(DockerArchive(LayoutImage::from_parts(members, info, paths)))
    }
}

/// The reference shown for the image: the input, and the tag it was
/// picked by (or its first tag).
fn reference_name(input: &str, image: Option<&ArchiveImage>, tags: &[String]) -> String {
    match (image, tags.first()) {
        (Some(ArchiveImage::Name(n)), _) => format!("{input}:{}", escape(n, 200)),
        (_, Some(tag)) => format!("{input} ({})", escape(tag, 200)),
        _ => input.to_owned(),
    }
}

/// Which of the archive's images (given by their tags) `image` names, as
/// skopeo chooses: `@N` by position, a name by tag (normalised), nothing
/// when there is exactly one. Errors list what there is.
pub(crate) fn select(
    input: &str,
    tags: &[Vec<String>],
    image: Option<&ArchiveImage>,
) -> Result<usize, SourceError> {
    let choices = || {
        tags.iter()
            .enumerate()
            .map(|(i, t)| match t.first() {
                Some(tag) => format!("{input}:{} (or :@{i})", escape(tag, 200)),
                None => format!("{input}:@{i}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match image {
        None if tags.len() > 1 => Err(SourceError::Ambiguous {
            input: input.to_owned(),
            count: tags.len(),
            choices: choices(),
        }),
        None => Ok(0),
        Some(ArchiveImage::Index(i)) if *i < tags.len() => Ok(*i),
        Some(ArchiveImage::Name(name)) => {
            let wanted = normalise(name);
            tags.iter()
                .position(|t| t.iter().any(|tag| normalise(tag) == wanted))
                .ok_or_else(|| SourceError::NoSuchImage {
                    input: input.to_owned(),
                    wanted: escape(name, 200),
                    choices: choices(),
                })
        }
        Some(other) => Err(SourceError::NoSuchImage {
            input: input.to_owned(),
            wanted: other.to_string(),
            choices: choices(),
        }),
    }
}

/// A repository tag as `docker` normalises it: `busybox` is
/// `docker.io/library/busybox:latest`.
fn normalise(name: &str) -> String {
    let (first, rest) = name.split_once('/').unwrap_or(("", name));
    let has_registry =
        !first.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost");
    let path = match (has_registry, first.is_empty()) {
        (true, _) => name.to_owned(),
        (false, true) => format!("docker.io/library/{rest}"),
        (false, false) => format!("docker.io/{name}"),
    };
    let path = path
        .strip_prefix("index.docker.io/")
        .map_or(path.clone(), |p| format!("docker.io/{p}"));
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains(':') || last.contains('@') {
        path
    } else {
        format!("{path}:latest")
    }
}

/// Builds the description of one `manifest.json` entry, and the member
/// holding each layer.
fn describe(
    members: &TarMembers,
    input: &str,
    reference: String,
    saved: SaveManifest,
    options: &SourceOptions,
) -> Result<(ImageInfo, Vec<String>), SourceError> {
    if !members.exists(&saved.config) {
        return Err(SourceError::MissingBlob {
            input: input.to_owned(),
            digest: escape(&saved.config, 200),
        });
    }
    let config_bytes = members.read_document(&saved.config)?;
    let config = ImageConfig::parse(input, &config_bytes)?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != saved.layers.len() {
        return Err(SourceError::invalid(
            input,
            format!(
                "`manifest.json` lists {} layers but the config has {} diff ids",
                saved.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let sources = saved.layer_sources.unwrap_or_default();
    let mut descriptors = Vec::with_capacity(saved.layers.len());
    let mut present = Vec::with_capacity(saved.layers.len());
    for (path, diff_id) in saved.layers.iter().zip(diff_ids) {
        let Some(size) = members.size(path) else {
            match sources.get(diff_id) {
                Some(d) if is_foreign_layer(&d.media_type) => {
                    descriptors.push(d.clone());
                    present.push(false);
                    continue;
                }
                _ => {
                    return Err(SourceError::MissingBlob {
                        input: input.to_owned(),
                        digest: escape(path, 200),
                    });
                }
            }
        };
        descriptors.push(layer_descriptor(members, input, path, diff_id, size)?);
        present.push(true);
    }
    let config_digest = Digest::of(&config_bytes);
    let mut info = ImageInfo::assemble(reference, None, &descriptors, config)?;
    // What `docker save` holds uncompressed, a push would compress: its
    // compressed size is not known (DESIGN.md "What the numbers mean").
    for (layer, d) in info.layers.iter_mut().zip(&descriptors) {
        if d.media_type == TAR {
            layer.compressed_bytes = None;
        }
    }
    enrich_from_index(members, &config_digest, &mut info);
    let mut layers = Vec::new();
    let mut paths = Vec::new();
    for ((layer, d), (path, here)) in info
        .layers
        .drain(..)
        .zip(&descriptors)
        .zip(saved.layers.into_iter().zip(present))
    {
        if here {
            layers.push(layer);
            paths.push(path);
        } else {
            info.warnings.push(foreign_warning(d));
        }
    }
    info.layers = layers;
    if let Some(w) = platform_warning(options, &info.platform) {
        info.warnings.push(w);
    }
    Ok((info, paths))
}

/// The descriptor of the layer stored at `path`: its compression sniffed
/// from its first bytes; its digest from its name where the name is one
/// (`blobs/sha256/HEX`, `HEX.tar.gz` as go-containerregistry writes,
/// `HEX.tar`), else the diff id for an uncompressed layer, else hashed.
fn layer_descriptor(
    members: &TarMembers,
    input: &str,
    path: &str,
    diff_id: &DiffId,
    size: u64,
) -> Result<Descriptor, SourceError> {
    let mut head = [0u8; 4];
    let got = read_head(members.open(path)?, &mut head).map_err(|e| {
        SourceError::invalid(input, format!("reading `{}`: {e}", escape(path, 200)))
    })?;
    let media_type = match &head[..got] {
        [0x1f, 0x8b, ..] => TAR_GZIP,
        [0x28, 0xb5, 0x2f, 0xfd] => TAR_ZSTD,
        _ => TAR,
    };
    let digest = match digest_in_name(path) {
        Some(d) => d,
        None if media_type == TAR => diff_id.0.clone(),
        None => hash_member(members, input, path)?,
    };
    Ok(Descriptor {
        media_type: media_type.to_owned(),
        digest,
        size,
        platform: None,
        annotations: Default::default(),
    })
}

fn read_head(mut r: impl Read, head: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// The digest a member's name spells, if it spells one.
pub(crate) fn digest_in_name(path: &str) -> Option<Digest> {
    if let Some(rest) = path.strip_prefix("blobs/") {
        return Digest::parse(&rest.replacen('/', ":", 1)).ok();
    }
    if path.contains('/') {
        return None;
    }
    let hex = [".tar.gz", ".tgz", ".tar.zst", ".tar"]
        .iter()
        .find_map(|ext| path.strip_suffix(ext))
        .unwrap_or(path);
    if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Digest::parse(&format!("sha256:{hex}")).ok()
    } else {
        None
    }
}

/// The sha256 of a member, for a compressed layer whose name does not say
/// its digest (one extra read of that layer).
pub(crate) fn hash_member(
    members: &TarMembers,
    input: &str,
    path: &str,
) -> Result<Digest, SourceError> {
    use sha2::Digest as _;
    let mut reader = members.open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            SourceError::invalid(input, format!("reading `{}`: {e}", escape(path, 200)))
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Digest::from_sha256(&hasher.finalize().into()))
}

/// Takes the manifest digest and media types from a Docker 25+
/// `index.json` manifest that describes this very image (same config, same
/// layers). One that disagrees with `manifest.json` is ignored, with a
/// warning: `docker load` reads `manifest.json`.
fn enrich_from_index(members: &TarMembers, config: &Digest, info: &mut ImageInfo) {
    if !members.exists("index.json") {
        return;
    }
    let Ok(entries) = read_index(members) else {
        info.warnings
            .push("`index.json` is unreadable; read `manifest.json` as `docker load` does".into());
        return;
    };
    if entries.is_empty() {
        return;
    }
    let input = members.input();
    let mut queue: Vec<(Descriptor, usize)> = entries.into_iter().map(|d| (d, 0)).collect();
    let mut seen = 0;
    while let Some((d, depth)) = queue.pop() {
        seen += 1;
        if seen > 64 {
            break;
        }
        let path = super::layout::blob_path(&d.digest);
        let Ok(bytes) = members.read_document(&path) else {
            continue;
        };
        if check_json(input, "manifest", &bytes).is_err() || Digest::of(&bytes) != d.digest {
            continue;
        }
        match ManifestOrIndex::parse(input, &bytes) {
            Ok(ManifestOrIndex::Index(inner)) if depth < 2 => {
                queue.extend(inner.manifests.into_iter().map(|d| (d, depth + 1)));
            }
            Ok(ManifestOrIndex::Manifest(m))
                if m.config.digest == *config && same_layers(&m.layers, &info.layers) =>
            {
                info.manifest_digest = Some(d.digest.clone());
                for (layer, desc) in info.layers.iter_mut().zip(&m.layers) {
                    if !desc.media_type.is_empty() {
                        layer.media_type = desc.media_type.clone();
                    }
                }
                return;
            }
            _ => {}
        }
    }
    info.warnings.push(
        "`index.json` and `manifest.json` describe different images; read the one in `manifest.json`, as `docker load` does"
            .into(),
    );
}

fn same_layers(descriptors: &[Descriptor], layers: &[LayerInfo]) -> bool {
    descriptors.len() == layers.len()
        && descriptors
            .iter()
            .zip(layers)
            .all(|(d, l)| d.digest == l.digest)
}

impl ImageSource for DockerArchive {
    fn info(&self) -> &ImageInfo {
        self.0.info()
    }

    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        self.0.open_layer(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_as_docker_does() {
        assert_eq!(normalise("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(normalise("busybox:1"), "docker.io/library/busybox:1");
        assert_eq!(normalise("a/b:c"), "docker.io/a/b:c");
        assert_eq!(normalise("localhost:5000/a"), "localhost:5000/a:latest");
        assert_eq!(
            normalise("index.docker.io/library/x:y"),
            "docker.io/library/x:y"
        );
    }

    #[test]
    fn digests_in_member_names() {
        let hex = "a".repeat(64);
        let d = format!("sha256:{hex}");
        assert_eq!(
            digest_in_name(&format!("{hex}.tar.gz")).map(String::from),
            Some(d.clone())
        );
        assert_eq!(
            digest_in_name(&format!("blobs/sha256/{hex}")).map(String::from),
            Some(d)
        );
        assert_eq!(digest_in_name(&format!("{hex}/layer.tar")), None);
        assert_eq!(digest_in_name("layer.tar"), None);
    }
}

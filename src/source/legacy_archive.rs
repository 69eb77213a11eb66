//! `docker save` archives from before Docker 1.10: no `manifest.json`,
//! only `repositories` (`{"name": {"tag": "TOP-ID"}}`) and, per layer,
//! `<id>/json` (v1 metadata: `parent`, the top one carrying the image
//! config) and `<id>/layer.tar`. The layer chain is walked from the top id
//! through `parent`. There are no diff ids: each `layer.tar` is hashed
//! once here, and is its own diff id.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::archive::TarMembers;
use super::config::{ImageConfig, parse_json};
use super::docker_archive::{hash_member, select};
use super::layout::{Blobs, LayoutImage, platform_warning};
use super::reference::ArchiveImage;
use super::{ImageInfo, LayerInfo, SourceError, SourceOptions, escape};
use crate::digest::DiffId;

/// Chains longer than this are refused (Docker capped images at 127).
const MAX_CHAIN: usize = 1000;

/// What a v1 `<id>/json` says that layerscope uses.
#[derive(Deserialize)]
struct V1Layer {
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    container_config: Option<V1ContainerConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V1ContainerConfig {
    #[serde(default)]
    cmd: Option<Vec<String>>,
}

/// Opens the image `image` names (or the only one) in a legacy archive.
pub fn open(
    members: TarMembers,
    input: String,
    image: Option<&ArchiveImage>,
    options: &SourceOptions,
) -> Result<LayoutImage<TarMembers>, SourceError> {
    let bytes = members.read_document("repositories")?;
    let repos: BTreeMap<String, BTreeMap<String, String>> =
        parse_json(&input, "`repositories`", &bytes)?;
    // Distinct top layers, each with its tags.
    let mut tops: Vec<(String, Vec<String>)> = Vec::new();
    for (repo, tags) in &repos {
        for (tag, id) in tags {
            let name = format!("{repo}:{tag}");
            match tops.iter_mut().find(|(top, _)| top == id) {
                Some((_, names)) => names.push(name),
                None => tops.push((id.clone(), vec![name])),
            }
        }
    }
    if tops.is_empty() {
        return Err(SourceError::invalid(
            &input,
            "`repositories` lists no image",
        ));
    }
    let tags: Vec<Vec<String>> = tops.iter().map(|(_, t)| t.clone()).collect();
    let n = select(&input, &tags, image)?;
    let (top, names) = &tops[n];
    let reference = format!("{input} ({})", escape(&names[0], 200));
    let chain = walk_chain(&members, &input, top)?;
    let config_bytes = members.read_document(&format!("{top}/json"))?;
    let mut config = ImageConfig::parse(&input, &config_bytes)?;
    let mut layers = Vec::with_capacity(chain.len());
    let mut paths = Vec::with_capacity(chain.len());
    for (id, created_by) in chain {
        let path = format!("{id}/layer.tar");
        let size = members
            .size(&path)
            .ok_or_else(|| SourceError::MissingBlob {
                input: input.clone(),
                digest: escape(&path, 200),
            })?;
        let digest = hash_member(&members, &input, &path)?;
        layers.push(LayerInfo {
            diff_id: Some(DiffId(digest.clone())),
            digest,
            media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
            blob_bytes: size,
            // Held uncompressed; what a push would send is estimated.
            compressed_bytes: None,
            created_by,
        });
        paths.push(path);
    }
    config.rootfs.diff_ids = layers.iter().filter_map(|l| l.diff_id.clone()).collect();
    let mut info = ImageInfo {
        reference,
        manifest_digest: None,
        platform: config.platform(),
        config,
        layers,
        warnings: Vec::new(),
    };
    if let Some(w) = platform_warning(options, &info.platform) {
        info.warnings.push(w);
    }
    Ok(LayoutImage::from_parts(members, info, paths))
}

/// The layer ids from the bottom to `top`, each with its command.
fn walk_chain(
    members: &TarMembers,
    input: &str,
    top: &str,
) -> Result<Vec<(String, Option<String>)>, SourceError> {
    let mut chain = Vec::new();
    let mut next = Some(top.to_owned());
    while let Some(id) = next {
        if chain.len() >= MAX_CHAIN || chain.iter().any(|(seen, _)| *seen == id) {
            return Err(SourceError::invalid(
                input,
                "the layers' `parent` chain loops or is too long",
            ));
        }
        if id.is_empty() || id.contains('/') || id.contains("..") {
            return Err(SourceError::invalid(
                input,
                "a layer id is not a plain name",
            ));
        }
        let bytes = members.read_document(&format!("{id}/json"))?;
        let layer: V1Layer = parse_json(input, "layer `json`", &bytes)?;
        let created_by = layer
            .container_config
            .and_then(|c| c.cmd)
            .map(|cmd| cmd.join(" "));
        next = layer.parent.filter(|p| !p.is_empty());
        chain.push((id, created_by));
    }
    chain.reverse();
    Ok(chain)
}

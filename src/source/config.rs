//! The JSON documents of an image: manifests, indexes and configs, in both
//! the OCI and the Docker v2 dialects, parsed leniently (unknown fields are
//! ignored, missing optional ones default) but never ambiguously: a
//! document over [`MAX_DOCUMENT`] or with a duplicate key is refused (see
//! [`parse_json`]), since serde_json would silently keep the last `layers`.

use serde::de::DeserializeOwned;
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
    /// `artifactType`: set on OCI artifacts (signatures, SBOMs, charts).
    #[serde(default)]
    pub artifact_type: Option<String>,
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
    /// The manifests (or nested indexes); `null` reads as none (Docker
    /// 25 writes that in `index.json` for an untagged image).
    #[serde(default, deserialize_with = "null_as_default")]
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

/// Manifests, indexes, configs, `index.json` and `manifest.json` larger
/// than this are refused (DESIGN.md "Hostile input").
pub const MAX_DOCUMENT: u64 = 4 << 20;

/// Parses the JSON document `what` of `input` strictly: at most
/// [`MAX_DOCUMENT`] bytes, and no object with the same key twice (serde_json
/// keeps the last one silently, so a manifest could show one tool one set
/// of layers and layerscope another). Errors name the document and the
/// duplicate key (escaped), never other content.
pub fn parse_json<T: DeserializeOwned>(
    input: &str,
    what: &str,
    bytes: &[u8],
) -> Result<T, SourceError> {
    check_json(input, what, bytes)?;
    serde_json::from_slice(bytes)
        .map_err(|e| SourceError::invalid(input, format!("bad {what}: {}", json_error(&e))))
}

/// The size and duplicate-key checks of [`parse_json`] alone.
pub fn check_json(input: &str, what: &str, bytes: &[u8]) -> Result<(), SourceError> {
    if bytes.len() as u64 > MAX_DOCUMENT {
        return Err(SourceError::invalid(
            input,
            format!(
                "{what} is {} bytes, over the {} MiB limit for JSON documents",
                bytes.len(),
                MAX_DOCUMENT >> 20
            ),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Unique::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| SourceError::invalid(input, format!("bad {what}: {}", json_error(&e))))
}

/// A serde_json error without the input's content: serde's messages quote
/// unknown variants and keys, so keep only the category and position.
fn json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.starts_with("duplicate key") {
        return msg;
    }
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON (line {}, column {})", e.line(), e.column())
        }
        _ => redact(&msg),
    }
}

/// A serde message with every quoted part (which may be the input's own
/// text: `invalid type: string "..."`) replaced by `…`; `missing field`
/// names our schema, not the input, and stays.
fn redact(msg: &str) -> String {
    if msg.starts_with("missing field") {
        return crate::source::escape(msg, 200);
    }
    let mut out = String::new();
    let mut quote: Option<(char, String)> = None;
    for c in msg.chars() {
        match &mut quote {
            Some((q, text)) if c == *q => {
                // A digest-shaped text (an invalid digest's own letters) is
                // named: it is short and only `alg:hex`, nothing to hide.
                if is_digest_like(text) {
                    out.push(*q);
                    out.push_str(text);
                    out.push(*q);
                } else {
                    out.push('…');
                }
                quote = None;
            }
            Some((_, text)) => text.push(c),
            None if c == '"' || c == '`' => quote = Some((c, String::new())),
            None => out.push(c),
        }
    }
    if quote.is_some() {
        out.push('…');
    }
    crate::source::escape(&out, 200)
}

/// `alg:hex` in either case, at most 140 characters.
fn is_digest_like(text: &str) -> bool {
    text.len() <= 140
        && text.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// Walks a JSON value and fails on an object with a repeated key.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key `{}`",
                    crate::source::escape(&key, 64)
                )));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

/// Config media types of container images.
pub const IMAGE_CONFIG_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

impl Manifest {
    /// Refuses a manifest that is an OCI artifact rather than a container
    /// image (a Helm chart, a signature, an SBOM), naming its media type:
    /// an `artifactType`, a config that is not an image config, or a layer
    /// that is not a filesystem layer.
    pub fn check_is_image(&self, input: &str) -> Result<(), SourceError> {
        let not_image = |media_type: &str| SourceError::NotAnImage {
            input: input.to_owned(),
            media_type: crate::source::escape(media_type, 120),
        };
        if let Some(t) = self.artifact_type.as_deref().filter(|t| !t.is_empty()) {
            return Err(not_image(t));
        }
        let config = self.config.media_type.as_str();
        if !config.is_empty() && !IMAGE_CONFIG_MEDIA_TYPES.contains(&config) {
            return Err(not_image(config));
        }
        if let Some(l) = self
            .layers
            .iter()
            .find(|l| !is_layer_media_type(&l.media_type))
        {
            return Err(not_image(&l.media_type));
        }
        Ok(())
    }
}

/// Whether a layer descriptor's media type is a filesystem layer (OCI or
/// Docker, compressed or not, distributable or not). An empty one is
/// accepted: some writers leave it out.
pub fn is_layer_media_type(media_type: &str) -> bool {
    media_type.is_empty()
        || media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.")
}

/// Whether a layer's media type says its blob may be absent: OCI
/// non-distributable layers and Docker foreign layers (Windows base
/// layers), which registries and archives leave out.
pub fn is_foreign_layer(media_type: &str) -> bool {
    media_type.contains(".nondistributable.") || media_type.contains(".foreign.")
}

impl ManifestOrIndex {
    /// Parses a manifest or an index from its JSON bytes; `input` names the
    /// source for errors.
    pub fn parse(input: &str, bytes: &[u8]) -> Result<Self, SourceError> {
        check_json(input, "manifest", bytes)?;
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            SourceError::invalid(input, format!("manifest is not JSON: {}", json_error(&e)))
        })?;
        let is_index = value.get("manifests").is_some()
            || value
                .get("mediaType")
                .and_then(|m| m.as_str())
                .is_some_and(|m| INDEX_MEDIA_TYPES.contains(&m));
        if is_index {
            serde_json::from_value(value)
                .map(ManifestOrIndex::Index)
                .map_err(|e| {
                    SourceError::invalid(input, format!("bad image index: {}", json_error(&e)))
                })
        } else {
            serde_json::from_value(value)
                .map(ManifestOrIndex::Manifest)
                .map_err(|e| {
                    SourceError::invalid(input, format!("bad image manifest: {}", json_error(&e)))
                })
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
        parse_json(input, "image config", bytes)
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
                blob_bytes: d.size,
                compressed_bytes: Some(d.size),
                created_by,
            })
            .collect();
        Ok(ImageInfo {
            reference,
            manifest_digest,
            platform: config.platform(),
            config,
            layers,
            warnings: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<impl Sized, SourceError>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let d = format!("sha256:{}", "a".repeat(64));
        let ok = format!(r#"{{"config":{{"digest":"{d}"}},"layers":[]}}"#);
        assert!(ManifestOrIndex::parse("x", ok.as_bytes()).is_ok());
        let top = format!(r#"{{"config":{{"digest":"{d}"}},"layers":[],"layers":[]}}"#);
        assert!(
            err(ManifestOrIndex::parse("x", top.as_bytes())).contains("duplicate key `layers`")
        );
        let deep = format!(r#"{{"config":{{"digest":"{d}","size":1,"size":2}},"layers":[]}}"#);
        assert!(err(ManifestOrIndex::parse("x", deep.as_bytes())).contains("duplicate key `size`"));
        // An escape spelling the same key is the same key.
        let escaped = r#"{"os":"linux","\u006fs":"windows"}"#;
        assert!(err(ImageConfig::parse("x", escaped.as_bytes())).contains("duplicate key `os`"));
        // A control character in a key is escaped, not printed.
        let ctl = r#"{"a\u001b":1,"a\u001b":2}"#;
        let e = err(ImageConfig::parse("x", ctl.as_bytes()));
        assert!(
            e.contains("duplicate key `a\\u{1b}`") && !e.contains('\u{1b}'),
            "{e}"
        );
    }

    #[test]
    fn documents_over_4_mib_are_refused_and_content_is_not_echoed() {
        let mut big = b"{\"os\":\"linux\"".to_vec();
        big.resize(MAX_DOCUMENT as usize, b' ');
        big.push(b'}');
        assert!(err(ImageConfig::parse("x", &big)).contains("4 MiB"));
        big.truncate(MAX_DOCUMENT as usize - 1);
        big.push(b'}');
        assert!(ImageConfig::parse("x", &big).is_ok());
        let e = err(ImageConfig::parse("x", br#"{"os":["SECRET"]}"#));
        assert!(
            e.contains("bad image config") && !e.contains("SECRET"),
            "{e}"
        );
        let e = err(ImageConfig::parse("x", b"root:x:0:0:SECRET"));
        assert!(!e.contains("SECRET"), "{e}");
    }
}

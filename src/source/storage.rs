//! `containers-storage:[[DRIVER@]ROOT[+RUNROOT]]NAME[:TAG]`: the local
//! store of podman and buildah, read without a daemon, as skopeo reads it.
//!
//! The store keeps each layer unpacked in a directory (`overlay/<id>/diff`,
//! `vfs/dir/<id>`) beside a tar-split file (`<driver>-layers/<id>.tar-split.gz`):
//! the layer's tar stream with every regular file's data cut out. Putting the
//! two together gives back the exact tar stream the layer was made from,
//! byte for byte, so its digest is the layer's diff id. Images are listed in
//! `<driver>-images/images.json`; their manifest and config are "big data"
//! files named `=` + base64(key) in the image's directory.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use super::config::{Descriptor, ImageConfig, ManifestOrIndex};
use super::tar_split::TarSplitReader;
use super::{ImageInfo, ImageSource, SourceError, SourceOptions};
use crate::digest::Digest;

/// Manifests and configs larger than this are refused.
const MAX_DOCUMENT: u64 = 4 << 20;
/// `images.json` and `layers.json` list every image and layer of a store.
const MAX_LISTING: u64 = 256 << 20;

/// A parsed `containers-storage:` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageRef {
    /// `DRIVER@` (`overlay`, `vfs`), when given.
    pub driver: Option<String>,
    /// The store's root (`graphroot`), when given.
    pub root: Option<PathBuf>,
    /// The image: a name with an optional tag, or an image id.
    pub image: String,
}

impl StorageRef {
    /// Parses what follows `containers-storage:`.
    pub fn parse(rest: &str) -> Result<StorageRef, SourceError> {
        let bad = || SourceError::BadReference(format!("containers-storage:{rest}"));
        let (store, image) = match rest.strip_prefix('[') {
            Some(inner) => inner.split_once(']').ok_or_else(bad)?,
            None => ("", rest),
        };
        if image.is_empty() {
            return Err(bad());
        }
        // `[driver@root+runroot:options]`: the options and run root are
        // not needed to read the store.
        let store = store.split([':', '+']).next().unwrap_or("");
        let (driver, root) = match store.split_once('@') {
            Some((driver, root)) => (Some(driver.to_owned()), root),
            None => (None, store),
        };
        Ok(StorageRef {
            driver: driver.filter(|d| !d.is_empty()),
            root: (!root.is_empty()).then(|| PathBuf::from(root)),
            image: image.to_owned(),
        })
    }
}

/// Where the store is and which driver wrote it.
#[derive(Clone, Debug)]
struct Store {
    root: PathBuf,
    driver: String,
}

#[derive(Debug, Default, Deserialize)]
struct StorageConf {
    #[serde(default)]
    storage: StorageSection,
}

#[derive(Debug, Default, Deserialize)]
struct StorageSection {
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    graphroot: Option<String>,
    #[serde(default)]
    rootless_storage_path: Option<String>,
}

impl Store {
    /// The store a reference names, else the one `storage.conf` names, else
    /// the default root (`/var/lib/containers/storage` as root,
    /// `$XDG_DATA_HOME/containers/storage` otherwise).
    fn locate(reference: &StorageRef) -> Result<Store, SourceError> {
        let conf = read_storage_conf();
        let rootless = !is_root();
        let root = reference
            .root
            .clone()
            .or_else(|| {
                let section = &conf.storage;
                let configured = if rootless {
                    section.rootless_storage_path.as_ref()
                } else {
                    section.graphroot.as_ref()
                };
                configured.map(PathBuf::from)
            })
            .or_else(|| default_root(rootless))
            .ok_or_else(|| {
                SourceError::invalid(
                    "containers-storage:",
                    "no storage root: set $HOME or name one as containers-storage:[overlay@ROOT]NAME",
                )
            })?;
        let driver = reference
            .driver
            .clone()
            .or(conf.storage.driver)
            .filter(|d| !d.is_empty())
            .or_else(|| {
                ["overlay", "vfs", "btrfs", "zfs"]
                    .into_iter()
                    .find(|d| root.join(format!("{d}-images")).is_dir())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "overlay".to_owned());
        if !root.join(format!("{driver}-images")).is_dir() {
            return Err(SourceError::Io {
                path: root.join(format!("{driver}-images")),
                source: io::Error::new(
                    io::ErrorKind::NotFound,
                    "no containers storage here (is podman or buildah using another root?)",
                ),
            });
        }
        Ok(Store { root, driver })
    }

    fn images_dir(&self) -> PathBuf {
        self.root.join(format!("{}-images", self.driver))
    }

    fn layers_dir(&self) -> PathBuf {
        self.root.join(format!("{}-layers", self.driver))
    }

    /// Where a layer's unpacked files are.
    fn diff_dir(&self, layer: &str) -> PathBuf {
        match self.driver.as_str() {
            "vfs" => self.root.join("vfs/dir").join(layer),
            "overlay" | "overlay2" => self.root.join("overlay").join(layer).join("diff"),
            other => self.root.join(other).join(layer),
        }
    }
}

fn is_root() -> bool {
    // The store's default depends on the user; `/proc/self` is owned by it.
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn default_root(rootless: bool) -> Option<PathBuf> {
    if !rootless {
        return Some(PathBuf::from("/var/lib/containers/storage"));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("containers/storage"))
}

fn read_storage_conf() -> StorageConf {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("CONTAINERS_STORAGE_CONF") {
        candidates.push(PathBuf::from(path));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|_| !is_root()) {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(home).join(".config"));
        candidates.push(config.join("containers/storage.conf"));
    }
    candidates.push(PathBuf::from("/etc/containers/storage.conf"));
    candidates
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| toml::from_str(&text).ok())
        .unwrap_or_default()
}

/// An image in `images.json`.
#[derive(Debug, Deserialize)]
struct StoredImage {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    layer: Option<String>,
}

/// A layer in `layers.json`.
#[derive(Debug, Deserialize)]
struct StoredLayer {
    id: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default, rename = "diff-digest")]
    diff_digest: Option<Digest>,
    #[serde(default, rename = "diff-size")]
    diff_size: Option<u64>,
    #[serde(default, rename = "compressed-diff-digest")]
    compressed_digest: Option<Digest>,
}

/// The names a user's short name may be stored under, as podman tags them.
fn candidate_names(name: &str) -> Vec<String> {
    let last = name.rsplit('/').next().unwrap_or(name);
    let name = if last.contains(':') || name.contains('@') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    };
    let first = name.split('/').next().unwrap_or("");
    let has_domain =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut out = vec![name.clone()];
    if !has_domain {
        out.push(format!("localhost/{name}"));
        if name.contains('/') {
            out.push(format!("docker.io/{name}"));
        } else {
            out.push(format!("docker.io/library/{name}"));
        }
    }
    out
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, limit: u64) -> Result<T, SourceError> {
    let bytes = read_limited(path, limit)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        SourceError::invalid(
            path.display().to_string(),
            format!("not a containers-storage listing: {e}"),
        )
    })
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|source| SourceError::Io {
            path: path.to_owned(),
            source,
        })?;
    if out.len() as u64 > limit {
        return Err(SourceError::invalid(
            path.display().to_string(),
            "too large to be a containers-storage document",
        ));
    }
    Ok(out)
}

/// An image in a containers store.
pub struct StorageImage {
    input: String,
    info: ImageInfo,
    /// Per layer, bottom first: its tar-split file and its unpacked files.
    layers: Vec<(PathBuf, PathBuf)>,
}

impl StorageImage {
    /// Opens `containers-storage:` + `rest`.
    pub fn open(rest: &str, _options: &SourceOptions) -> Result<StorageImage, SourceError> {
        let reference = StorageRef::parse(rest)?;
        let store = Store::locate(&reference)?;
        let input = format!("containers-storage:{}", reference.image);
        let images: Vec<StoredImage> =
            read_json(&store.images_dir().join("images.json"), MAX_LISTING)?;
        let image = find_image(&images, &reference.image)
            .ok_or_else(|| SourceError::NotFound(input.clone()))?;
        let big_data = |key: &str| store.images_dir().join(&image.id).join(big_data_name(key));
        let manifest_path = big_data("manifest");
        let manifest_bytes = read_limited(&manifest_path, MAX_DOCUMENT)?;
        let ManifestOrIndex::Manifest(manifest) = ManifestOrIndex::parse(&input, &manifest_bytes)?
        else {
            return Err(SourceError::invalid(
                &input,
                "the stored manifest is an index",
            ));
        };
        let config_bytes = read_limited(&big_data(manifest.config.digest.as_str()), MAX_DOCUMENT)?;
        if Digest::of(&config_bytes) != manifest.config.digest {
            return Err(SourceError::invalid(
                &input,
                format!(
                    "config {} does not match its digest",
                    manifest.config.digest
                ),
            ));
        }
        let config = ImageConfig::parse(&input, &config_bytes)?;
        let all_layers: Vec<StoredLayer> =
            read_json(&store.layers_dir().join("layers.json"), MAX_LISTING)?;
        let chain = layer_chain(&all_layers, image.layer.as_deref(), &input)?;
        if chain.len() != manifest.layers.len() {
            return Err(SourceError::invalid(
                &input,
                format!(
                    "the manifest lists {} layers but the store holds {}",
                    manifest.layers.len(),
                    chain.len()
                ),
            ));
        }
        let mut descriptors = Vec::with_capacity(chain.len());
        // Per layer: (the compressed size a pull downloaded, if known; the
        // length of the stream the store gives back).
        let mut sizes: Vec<(Option<u64>, Option<u64>)> = Vec::with_capacity(chain.len());
        let mut layers = Vec::with_capacity(chain.len());
        for (stored, described) in chain.iter().zip(&manifest.layers) {
            let digest = stored.diff_digest.clone().ok_or_else(|| {
                SourceError::invalid(&input, format!("layer {} has no diff digest", stored.id))
            })?;
            // The store holds the uncompressed stream; the manifest's size is
            // the blob that was pulled, when the image came from a registry.
            let pulled = stored.compressed_digest.as_ref() == Some(&described.digest)
                && described.digest != digest;
            sizes.push((pulled.then_some(described.size), stored.diff_size));
            descriptors.push(Descriptor {
                media_type: "application/vnd.oci.image.layer.v1.tar".to_owned(),
                digest,
                size: if pulled {
                    described.size
                } else {
                    stored.diff_size.unwrap_or(described.size)
                },
                platform: None,
                annotations: Default::default(),
            });
            layers.push((
                store
                    .layers_dir()
                    .join(format!("{}.tar-split.gz", stored.id)),
                store.diff_dir(&stored.id),
            ));
        }
        let reference_name = image
            .names
            .first()
            .map(|n| format!("containers-storage:{n}"))
            .unwrap_or_else(|| input.clone());
        let mut info = ImageInfo::assemble(
            reference_name,
            Some(Digest::of(&manifest_bytes)),
            &descriptors,
            config,
        )?;
        // A layer built locally was never compressed: its pull size is
        // estimated downstream (DESIGN.md "What the numbers mean").
        for (layer, (pulled, stream)) in info.layers.iter_mut().zip(sizes) {
            layer.compressed_bytes = pulled;
            if let Some(stream) = stream {
                layer.blob_bytes = stream;
            }
        }
        Ok(StorageImage {
            input,
            info,
            layers,
        })
    }
}

/// The file name containers/storage gives a big-data key: the key itself
/// when it is only `[.0-9a-z]`, else `=` + its base64.
fn big_data_name(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b == b'.' || b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        key.to_owned()
    } else {
        format!("={}", BASE64.encode(key))
    }
}

fn find_image<'a>(images: &'a [StoredImage], wanted: &str) -> Option<&'a StoredImage> {
    let names = candidate_names(wanted);
    let id = wanted.strip_prefix("sha256:").unwrap_or(wanted);
    images
        .iter()
        .find(|i| i.names.iter().any(|n| names.contains(n)))
        .or_else(|| images.iter().find(|i| i.id == id))
        .or_else(|| {
            // A unique id prefix, as `podman images` prints it (12 digits).
            let mut hits = images
                .iter()
                .filter(|i| id.len() >= 12 && i.id.starts_with(id));
            let first = hits.next();
            if hits.next().is_some() { None } else { first }
        })
}

/// The layers from the bottom to `top`.
fn layer_chain<'a>(
    layers: &'a [StoredLayer],
    top: Option<&str>,
    input: &str,
) -> Result<Vec<&'a StoredLayer>, SourceError> {
    let mut chain = Vec::new();
    let mut next = top;
    while let Some(id) = next {
        if chain.len() > layers.len() {
            return Err(SourceError::invalid(
                input,
                "the store's layers form a cycle",
            ));
        }
        let layer = layers.iter().find(|l| l.id == id).ok_or_else(|| {
            SourceError::invalid(input, format!("layer {id} is not in the store"))
        })?;
        chain.push(layer);
        next = layer.parent.as_deref();
    }
    chain.reverse();
    Ok(chain)
}

impl ImageSource for StorageImage {
    fn info(&self) -> &ImageInfo {
        &self.info
    }

    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        let (split, diff) = self
            .layers
            .get(index)
            .ok_or_else(|| SourceError::invalid(&self.input, format!("no layer {index}")))?;
        let file = File::open(split).map_err(|source| SourceError::Io {
            path: split.clone(),
            source,
        })?;
        let diff_root = diff.canonicalize().map_err(|source| SourceError::Io {
            path: diff.clone(),
            source,
        })?;
        Ok(Box::new(TarSplitReader::new(
            BufReader::with_capacity(
                256 << 10,
                flate2::read::MultiGzDecoder::new(BufReader::new(file)),
            ),
            diff_root,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = StorageRef::parse("[vfs@/tmp/root+/run/x:opt=1]localhost/a:1");
        assert_eq!(
            r.ok(),
            Some(StorageRef {
                driver: Some("vfs".into()),
                root: Some("/tmp/root".into()),
                image: "localhost/a:1".into(),
            })
        );
        let r = StorageRef::parse("busybox");
        assert_eq!(r.ok().map(|r| (r.driver, r.root)), Some((None, None)));
        assert!(StorageRef::parse("[vfs@/x").is_err());
        assert!(StorageRef::parse("").is_err());
    }

    #[test]
    fn short_names() {
        assert_eq!(
            candidate_names("busybox"),
            [
                "busybox:latest",
                "localhost/busybox:latest",
                "docker.io/library/busybox:latest"
            ]
        );
        assert_eq!(candidate_names("quay.io/a/b:1"), ["quay.io/a/b:1"]);
    }
}

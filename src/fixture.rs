//! Builds images in code for tests, benchmarks and `testdata/`:
//! `image(vec![layer(vec![file("a/b.py", b"...")])])`, then write it as a
//! classic or OCI-style `docker save` archive, an OCI layout directory or
//! an OCI archive. Output is deterministic (fixed times, sorted JSON), so
//! every byte figure of a fixture follows from its construction.

pub mod archives;
mod raw;

pub use raw::{pax_record, raw_header};

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde_json::json;

use crate::digest::Digest;
use crate::scan::Compression;
use crate::source::Platform;

/// One entry of a fixture layer.
#[derive(Clone, Debug)]
pub enum Item {
    /// A regular file.
    File {
        /// Path (bytes, may be non-UTF-8).
        path: Vec<u8>,
        /// Content.
        data: Vec<u8>,
        /// Mode bits.
        mode: u32,
        /// Owner.
        uid: u64,
    },
    /// A directory.
    Dir(Vec<u8>),
    /// A symlink `path -> target`.
    Symlink(Vec<u8>, Vec<u8>),
    /// A hard link `path => target`.
    HardLink(Vec<u8>, Vec<u8>),
    /// `.wh.NAME` deleting `path`.
    Whiteout(Vec<u8>),
    /// `DIR/.wh..wh..opq`.
    Opaque(Vec<u8>),
    /// An old GNU sparse file (`S`): data `chunks` at their offsets, holes
    /// between, `apparent` bytes in all.
    Sparse {
        /// Path.
        path: Vec<u8>,
        /// Apparent size.
        apparent: u64,
        /// (offset, data) in order.
        chunks: Vec<(u64, Vec<u8>)>,
    },
    /// A regular file whose path is given in a PAX record.
    PaxFile(Vec<u8>, Vec<u8>),
    /// Bytes written into the tar stream as they are (crafted headers;
    /// whole 512-byte blocks).
    Raw(Vec<u8>),
}

/// An old GNU sparse file of `apparent` bytes holding `chunks` of data.
pub fn sparse(path: impl AsRef<[u8]>, apparent: u64, chunks: Vec<(u64, Vec<u8>)>) -> Item {
    Item::Sparse {
        path: path.as_ref().to_vec(),
        apparent,
        chunks,
    }
}

/// A regular file whose path travels in a PAX `path` record.
pub fn pax_file(path: impl AsRef<[u8]>, data: impl AsRef<[u8]>) -> Item {
    Item::PaxFile(path.as_ref().to_vec(), data.as_ref().to_vec())
}

/// Raw blocks in the tar stream.
pub fn raw(bytes: Vec<u8>) -> Item {
    Item::Raw(bytes)
}

/// A regular file with mode 0644 owned by root.
pub fn file(path: impl AsRef<[u8]>, data: impl AsRef<[u8]>) -> Item {
    Item::File {
        path: path.as_ref().to_vec(),
        data: data.as_ref().to_vec(),
        mode: 0o644,
        uid: 0,
    }
}

/// A regular file of `size` bytes of a pattern derived from `seed`
/// (distinct seeds give distinct content).
pub fn sized_file(path: impl AsRef<[u8]>, size: usize, seed: u64) -> Item {
    file(path, pattern(size, seed))
}

/// `size` deterministic bytes: a repeating 16-byte block made from `seed`
/// (so it compresses well, like real text) with a position counter every
/// block (so no two files of equal size and different seed are equal).
pub fn pattern(size: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    let mut i: u64 = 0;
    while out.len() < size {
        let block = [seed.to_le_bytes(), (i / 64).to_le_bytes()].concat();
        let take = (size - out.len()).min(block.len());
        out.extend_from_slice(&block[..take]);
        i += 1;
    }
    out
}

/// The same file owned by `uid` (a `chown` rewrite).
pub fn owned(item: Item, new_uid: u64) -> Item {
    match item {
        Item::File {
            path, data, mode, ..
        } => Item::File {
            path,
            data,
            mode,
            uid: new_uid,
        },
        other => other,
    }
}

/// A directory.
pub fn dir(path: impl AsRef<[u8]>) -> Item {
    Item::Dir(path.as_ref().to_vec())
}

/// A symlink.
pub fn symlink(path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Item {
    Item::Symlink(path.as_ref().to_vec(), target.as_ref().to_vec())
}

/// A hard link to an earlier entry of the same layer.
pub fn hardlink(path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Item {
    Item::HardLink(path.as_ref().to_vec(), target.as_ref().to_vec())
}

/// A whiteout deleting `path` (and everything under it).
pub fn whiteout(path: impl AsRef<[u8]>) -> Item {
    Item::Whiteout(path.as_ref().to_vec())
}

/// An opaque marker for directory `path`.
pub fn opaque(path: impl AsRef<[u8]>) -> Item {
    Item::Opaque(path.as_ref().to_vec())
}

/// A fixture layer.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Entries in archive order.
    pub items: Vec<Item>,
    /// The history entry.
    pub created_by: String,
}

/// A layer of `items` with a generic history entry.
pub fn layer(items: Vec<Item>) -> Layer {
    Layer {
        items,
        created_by: String::new(),
    }
}

impl Layer {
    /// Sets the history entry (`RUN /bin/sh -c ...`).
    pub fn created_by(mut self, s: &str) -> Layer {
        self.created_by = s.to_owned();
        self
    }

    /// The uncompressed tar stream.
    pub fn tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for item in &self.items {
            // Writing into a Vec cannot fail.
            let _ = append(&mut b, item);
        }
        b.into_inner().unwrap_or_default()
    }

    /// The blob: the tar stream compressed as asked.
    pub fn blob(&self, compression: Compression) -> Vec<u8> {
        compress(&self.tar(), compression)
    }
}

/// Compresses `data` (gzip level 6, zstd level 3).
pub fn compress(data: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            let _ = e.write_all(data);
            e.finish().unwrap_or_default()
        }
        Compression::Zstd => zstd::encode_all(data, 3).unwrap_or_default(),
    }
}

fn header(kind: tar::EntryType, mode: u32, uid: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    h
}

fn os_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

/// Appends one entry. Paths up to 100 bytes are written into the header
/// as they are (so fixtures can hold `..`, absolute and non-UTF-8 names,
/// which `tar::Builder` refuses); longer ones get GNU long-name records.
fn append_raw(
    b: &mut tar::Builder<Vec<u8>>,
    mut h: tar::Header,
    path: &[u8],
    link: Option<&[u8]>,
    data: &[u8],
) -> io::Result<()> {
    let short = path.len() <= 100 && link.is_none_or(|l| l.len() <= 100);
    if !short {
        return match link {
            Some(target) => b.append_link(&mut h, os_path(path), os_path(target)),
            None => b.append_data(&mut h, os_path(path), data),
        };
    }
    let old = h.as_old_mut();
    old.name = [0; 100];
    old.name[..path.len()].copy_from_slice(path);
    if let Some(target) = link {
        old.linkname = [0; 100];
        old.linkname[..target.len()].copy_from_slice(target);
    }
    h.set_cksum();
    b.append(&h, data)
}

fn append(b: &mut tar::Builder<Vec<u8>>, item: &Item) -> io::Result<()> {
    match item {
        Item::File {
            path,
            data,
            mode,
            uid,
        } => append_raw(
            b,
            header(tar::EntryType::Regular, *mode, *uid, data.len() as u64),
            path,
            None,
            data,
        ),
        Item::Dir(path) => {
            let mut p = path.clone();
            p.push(b'/');
            append_raw(
                b,
                header(tar::EntryType::Directory, 0o755, 0, 0),
                &p,
                None,
                &[],
            )
        }
        Item::Symlink(path, target) => append_raw(
            b,
            header(tar::EntryType::Symlink, 0o777, 0, 0),
            path,
            Some(target),
            &[],
        ),
        Item::HardLink(path, target) => append_raw(
            b,
            header(tar::EntryType::Link, 0o644, 0, 0),
            path,
            Some(target),
            &[],
        ),
        Item::Whiteout(path) => {
            let (parent, name) = match path.iter().rposition(|&c| c == b'/') {
                Some(i) => (&path[..=i], &path[i + 1..]),
                None => (&path[..0], &path[..]),
            };
            let wh = [parent, b".wh.", name].concat();
            append_raw(
                b,
                header(tar::EntryType::Regular, 0o644, 0, 0),
                &wh,
                None,
                &[],
            )
        }
        Item::Opaque(dir) => {
            let marker = [dir.as_slice(), b"/.wh..wh..opq"].concat();
            append_raw(
                b,
                header(tar::EntryType::Regular, 0o644, 0, 0),
                &marker,
                None,
                &[],
            )
        }
        Item::Sparse {
            path,
            apparent,
            chunks,
        } => b
            .get_mut()
            .write_all(&raw::sparse_blocks(path, *apparent, chunks)),
        Item::PaxFile(path, data) => {
            let record = pax_record(b"path", path);
            b.get_mut()
                .write_all(&raw_header(b'x', b"PaxHeaders/x", record.len() as u64))?;
            let mut padded = record;
            padded.resize(padded.len().div_ceil(512) * 512, 0);
            b.get_mut().write_all(&padded)?;
            append_raw(
                b,
                header(tar::EntryType::Regular, 0o644, 0, data.len() as u64),
                b"pax-placeholder",
                None,
                data,
            )
        }
        Item::Raw(bytes) => b.get_mut().write_all(bytes),
    }
}

/// A fixture image.
#[derive(Clone, Debug)]
pub struct Image {
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
    /// Compression of the layer blobs (OCI-shaped outputs; classic docker
    /// archives are always uncompressed).
    pub compression: Compression,
    /// The platform of the config.
    pub platform: Platform,
}

/// An image of `layers`, gzip-compressed, linux/amd64.
pub fn image(layers: Vec<Layer>) -> Image {
    Image {
        layers,
        compression: Compression::Gzip,
        platform: "linux/amd64".parse().unwrap_or_default(),
    }
}

/// A blob: digest, bytes, media type.
struct Blob {
    digest: Digest,
    data: Vec<u8>,
    media_type: &'static str,
}

impl Blob {
    fn new(data: Vec<u8>, media_type: &'static str) -> Blob {
        Blob {
            digest: Digest::of(&data),
            data,
            media_type,
        }
    }

    fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest.as_str(), "size": self.data.len()})
    }
}

impl Image {
    /// Sets the layer compression.
    pub fn compressed(mut self, compression: Compression) -> Image {
        self.compression = compression;
        self
    }

    /// Sets the platform.
    pub fn platform(mut self, platform: &str) -> Image {
        self.platform = platform.parse().unwrap_or_default();
        self
    }

    /// The config JSON.
    pub fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self
            .layers
            .iter()
            .map(|l| Digest::of(&l.tar()).to_string())
            .collect();
        let history: Vec<serde_json::Value> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let by = if l.created_by.is_empty() {
                    format!("/bin/sh -c #(nop) layer {i}")
                } else {
                    l.created_by.clone()
                };
                json!({"created": "2024-01-01T00:00:00Z", "created_by": by})
            })
            .collect();
        let mut config = json!({
            "architecture": self.platform.architecture,
            "os": self.platform.os,
            "created": "2024-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        if let Some(v) = &self.platform.variant {
            config["variant"] = json!(v);
        }
        serde_json::to_vec(&config).unwrap_or_default()
    }

    fn oci_blobs(&self) -> (Blob, Blob, Vec<Blob>) {
        let layer_type = match self.compression {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        };
        let layers: Vec<Blob> = self
            .layers
            .iter()
            .map(|l| Blob::new(l.blob(self.compression), layer_type))
            .collect();
        let config = Blob::new(self.config(), "application/vnd.oci.image.config.v1+json");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        });
        let manifest = Blob::new(
            serde_json::to_vec(&manifest).unwrap_or_default(),
            "application/vnd.oci.image.manifest.v1+json",
        );
        (manifest, config, layers)
    }

    /// The digest of the OCI manifest the OCI-shaped writers produce.
    pub fn manifest_digest(&self) -> Digest {
        self.oci_blobs().0.digest
    }

    /// Writes an OCI image layout directory, tagged `tag`.
    pub fn write_oci_dir(&self, dir: &Path, tag: &str) -> io::Result<()> {
        write_files(dir, &self.oci_layout_files(tag))
    }

    /// Writes a tar of an OCI image layout.
    pub fn write_oci_archive(&self, path: &Path, tag: &str) -> io::Result<()> {
        write_tar(path, &self.oci_layout_files(tag))
    }

    /// Writes a classic `docker save` archive (`<id>/layer.tar`, uncompressed).
    pub fn write_docker_archive(&self, path: &Path, tag: &str) -> io::Result<()> {
        let config = self.config();
        let config_name = format!("{}.json", Digest::of(&config).hex());
        let mut files = vec![(config_name.clone(), config)];
        let mut layer_paths = Vec::new();
        for l in &self.layers {
            let tar = l.tar();
            let id = Digest::of(&tar).hex().to_owned();
            layer_paths.push(format!("{id}/layer.tar"));
            files.push((format!("{id}/VERSION"), b"1.0".to_vec()));
            files.push((format!("{id}/layer.tar"), tar));
        }
        let manifest = json!([{"Config": config_name, "RepoTags": [tag], "Layers": layer_paths}]);
        files.push((
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap_or_default(),
        ));
        write_tar(path, &files)
    }

    /// Writes a Docker 25+ `docker save` archive: OCI blobs plus
    /// `manifest.json` pointing into them.
    pub fn write_docker_archive_oci(&self, path: &Path, tag: &str) -> io::Result<()> {
        let (manifest, config, layers) = self.oci_blobs();
        let saved = json!([{
            "Config": format!("blobs/sha256/{}", config.digest.hex()),
            "RepoTags": [tag],
            "Layers": layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.hex())).collect::<Vec<_>>(),
        }]);
        let mut files = self.oci_layout_files_from(tag, manifest, config, layers);
        files.push((
            "manifest.json".into(),
            serde_json::to_vec(&saved).unwrap_or_default(),
        ));
        write_tar(path, &files)
    }

    fn oci_layout_files(&self, tag: &str) -> Vec<(String, Vec<u8>)> {
        let (manifest, config, layers) = self.oci_blobs();
        self.oci_layout_files_from(tag, manifest, config, layers)
    }

    fn oci_layout_files_from(
        &self,
        tag: &str,
        manifest: Blob,
        config: Blob,
        layers: Vec<Blob>,
    ) -> Vec<(String, Vec<u8>)> {
        let mut desc = manifest.descriptor();
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]});
        let mut files = vec![
            (
                "oci-layout".to_owned(),
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            ),
            (
                "index.json".to_owned(),
                serde_json::to_vec(&index).unwrap_or_default(),
            ),
        ];
        for blob in [manifest, config].into_iter().chain(layers) {
            files.push((format!("blobs/sha256/{}", blob.digest.hex()), blob.data));
        }
        files
    }
}

/// Writes a multi-platform OCI layout: one index (tagged `tag`) listing one
/// manifest per image, each with its platform.
pub fn write_multi_platform_oci_dir(dir: &Path, tag: &str, images: &[Image]) -> io::Result<()> {
    let mut files = vec![(
        "oci-layout".to_owned(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    )];
    let mut entries = Vec::new();
    for img in images {
        let (manifest, config, layers) = img.oci_blobs();
        let mut desc = manifest.descriptor();
        let mut platform =
            json!({"os": img.platform.os, "architecture": img.platform.architecture});
        if let Some(v) = &img.platform.variant {
            platform["variant"] = json!(v);
        }
        desc["platform"] = platform;
        entries.push(desc);
        for blob in [manifest, config].into_iter().chain(layers) {
            files.push((format!("blobs/sha256/{}", blob.digest.hex()), blob.data));
        }
    }
    let inner = Blob::new(
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}))
            .unwrap_or_default(),
        "application/vnd.oci.image.index.v1+json",
    );
    let mut desc = inner.descriptor();
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let outer = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]});
    files.push((format!("blobs/sha256/{}", inner.digest.hex()), inner.data));
    files.push((
        "index.json".to_owned(),
        serde_json::to_vec(&outer).unwrap_or_default(),
    ));
    write_files(dir, &files)
}

fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> io::Result<()> {
    for (name, data) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, data)?;
    }
    Ok(())
}

fn write_tar(path: &Path, files: &[(String, Vec<u8>)]) -> io::Result<()> {
    let mut b = tar::Builder::new(io::BufWriter::new(fs::File::create(path)?));
    for (name, data) in files {
        let mut h = header(tar::EntryType::Regular, 0o644, 0, data.len() as u64);
        b.append_data(&mut h, name, data.as_slice())?;
    }
    b.into_inner()?.flush()
}

//! The layer index cache: a layer's [`LayerIndex`] depends only on its blob
//! digest, so it is kept on disk by digest and never computed twice.
//!
//! Layout: `CACHE_DIR/layers-v{FORMAT}-{crate version}/sha256-{hex}.idx`,
//! each file a short header (magic, format version) followed by the index as
//! MessagePack (named fields, so a schema change fails to decode instead of
//! decoding wrongly) compressed with zstd. Files are written to a temporary
//! file in the same directory and renamed into place, so a reader never sees
//! half a file, and concurrent writers of the same layer are harmless.
//!
//! Trust: an index records the verification its bytes had
//! ([`LayerIndex::verified`]); a hit is used only when that is at least
//! what the run asks (a `--verify` run or a download never uses an index
//! made from trusted local bytes), and only when the stored index names the
//! same digest (and the same diff id when the config gives one). Cache files
//! are read only when they are regular files of a sane size, never through
//! a symlink. Anything unreadable, corrupt or from another format is a
//! miss: the layer is scanned again and the file rewritten. The cache never
//! fails an analysis.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{LayerIndex, Verify};
use crate::digest::Digest;
use crate::source::LayerInfo;

/// The on-disk format version. Bump it whenever [`LayerIndex`] (or anything
/// inside it) changes meaning, so old files are ignored rather than misread.
pub const FORMAT: u32 = 8;

/// First bytes of every cache file.
const MAGIC: &[u8; 8] = b"LSCIDX\0\x01";

/// zstd level: fast to write, and the indexes compress well even so.
const LEVEL: i32 = 3;

/// Why an index could not be stored (never shown as an error to the user:
/// the pipeline logs it and carries on).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Creating, writing or renaming the file failed.
    #[error("writing the layer cache `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The index could not be encoded.
    #[error("encoding a layer index for the cache: {0}")]
    Encode(String),
}

/// A directory of cached layer indexes.
#[derive(Clone, Debug)]
pub struct LayerCache {
    dir: PathBuf,
}

impl LayerCache {
    /// The cache under `root` (e.g. `$XDG_CACHE_HOME/layerscope`). Nothing
    /// is created until the first [`LayerCache::put`].
    pub fn new(root: &Path) -> LayerCache {
        LayerCache {
            dir: root.join(format!(
                "layers-v{FORMAT}-{}-{}",
                env!("CARGO_PKG_VERSION"),
                schema_tag()
            )),
        }
    }

    /// The versioned directory the files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the index of the blob `digest` is kept.
    pub fn path(&self, digest: &Digest) -> Option<PathBuf> {
        let (algo, hex) = digest.as_str().split_once(':')?;
        Some(self.dir.join(format!("{algo}-{hex}.idx")))
    }

    /// The cached index of `layer`, if there is a trustworthy one made at
    /// verification level `need` or above (an index made from unverified
    /// bytes is never served to a run that verifies).
    pub fn get(&self, layer: &LayerInfo, need: Verify) -> Option<LayerIndex> {
        let path = self.path(&layer.digest)?;
        let bytes = read_regular(&path).ok()?;
        match decode(&bytes) {
            Ok(index) if index.verified < need => {
                tracing::debug!(path = %path.display(), "layer cache entry less verified than asked; ignored");
                None
            }
            Ok(index) if matches(&index, layer) => Some(index),
            Ok(_) => {
                tracing::debug!(path = %path.display(), "layer cache entry names another layer; ignored");
                None
            }
            Err(reason) => {
                tracing::debug!(path = %path.display(), reason, "corrupt layer cache entry; ignored");
                None
            }
        }
    }

    /// Stores the index of `layer` (with the level it was verified at).
    /// Does nothing (and returns `Ok(false)`) unless the index's digest is
    /// the manifest digest of `layer`.
    pub fn put(&self, layer: &LayerInfo, index: &LayerIndex) -> Result<bool, CacheError> {
        let Some(path) = self.path(&layer.digest) else {
            return Ok(false);
        };
        if !matches(index, layer) {
            return Ok(false);
        }
        let bytes = encode(index)?;
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| CacheError::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(io_err(&self.dir))?;
        tmp.write_all(&bytes).map_err(io_err(tmp.path()))?;
        tmp.persist(&path).map_err(|e| CacheError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(true)
    }
}

/// A fingerprint of what the scanner produces: the encoded index of a
/// small probe layer (files, links, whiteouts, Python and dpkg metadata), hashed. A
/// new, renamed or re-typed field, or a scanner that records something
/// differently, changes it, so indexes written by another build are never
/// misread even when nobody remembered to bump [`FORMAT`]. Computed once per
/// process (a few microseconds).
pub fn schema_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let blob = probe_layer();
        let info = LayerInfo {
            digest: Digest::of(&blob),
            diff_id: None,
            media_type: String::new(),
            blob_bytes: blob.len() as u64,
            compressed_bytes: Some(blob.len() as u64),
            created_by: None,
        };
        match super::scan_layer(blob.as_slice(), &info, super::Verify::default())
            .map(|index| rmp_serde::to_vec(&index))
        {
            Ok(Ok(bytes)) => Digest::of(&bytes).hex()[..12].to_owned(),
            _ => "noprobe".to_owned(),
        }
    })
}

/// Reads the cache file at `path` only if it is a regular file (a symlink
/// is not followed) of a sane size: the cache directory may be shared or
/// tampered with, and a FIFO or device must not block or flood a run.
fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        // O_NOFOLLOW: a symlink fails to open; O_NONBLOCK: opening a FIFO
        // does not wait for a writer (it is refused below).
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_FILE {
        return Err(io::Error::other("too large for a layer index"));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE + 1).read_to_end(&mut out)?;
    Ok(out)
}

/// Larger cache files are refused: a 1.35M-entry layer takes 78 MB.
const MAX_FILE: u64 = 2 << 30;

/// The probe layer of [`schema_tag`], an uncompressed tar: files, links,
/// whiteouts and Python metadata. Built here with `tar` rather than with the
/// test fixtures, which the library does not ship.
fn probe_layer() -> Vec<u8> {
    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_size(size);
        h.set_mtime(0);
        h
    }
    let site = "usr/lib/python3/site-packages";
    let files: [(String, &[u8]); 7] = [
        (
            format!("{site}/p-1.0.dist-info/METADATA"),
            b"Name: p\nVersion: 1.0\n",
        ),
        (
            format!("{site}/p-1.0.dist-info/RECORD"),
            b"p/__init__.py,,\n",
        ),
        (format!("{site}/p/__init__.py"), b"x = 1\n"),
        ("var/lib/dpkg/status".to_owned(), b"Package: p\n"),
        ("var/lib/dpkg/info/p.list".to_owned(), b"/usr/bin/p\n"),
        ("tmp/.wh.gone".to_owned(), b""),
        ("var/cache/.wh..wh..opq".to_owned(), b""),
    ];
    let mut b = tar::Builder::new(Vec::new());
    // Writing into a Vec cannot fail; a failure only changes the tag.
    let _ = b.append_data(
        &mut header(tar::EntryType::Directory, 0),
        format!("{site}/"),
        &[][..],
    );
    for (path, data) in &files {
        let _ = b.append_data(
            &mut header(tar::EntryType::Regular, data.len() as u64),
            path,
            *data,
        );
    }
    let _ = b.append_link(
        &mut header(tar::EntryType::Symlink, 0),
        "usr/bin/p",
        "../lib/p",
    );
    let _ = b.append_link(
        &mut header(tar::EntryType::Link, 0),
        "usr/bin/q",
        format!("{site}/p/__init__.py"),
    );
    b.into_inner().unwrap_or_default()
}

/// Whether `index` is the index of `layer`: the same blob digest,
/// and the same diff id when the config names one.
fn matches(index: &LayerIndex, layer: &LayerInfo) -> bool {
    index.digest == layer.digest && layer.diff_id.as_ref().is_none_or(|d| *d == index.diff_id)
}

/// Header + zstd(MessagePack(index)). Encoded in memory first: feeding
/// the codec MessagePack's many tiny writes costs more than the copy.
pub fn encode(index: &LayerIndex) -> Result<Vec<u8>, CacheError> {
    let packed = rmp_serde::to_vec(index).map_err(|e| CacheError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(packed.len() / 4 + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    zstd::stream::copy_encode(packed.as_slice(), &mut out, LEVEL)
        .map_err(|e| CacheError::Encode(e.to_string()))?;
    Ok(out)
}

/// The inverse of [`encode`]; any defect is an error naming it.
pub fn decode(bytes: &[u8]) -> Result<LayerIndex, String> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or("bad magic")?;
    let (version, body) = rest.split_at_checked(4).ok_or("truncated header")?;
    if version != FORMAT.to_le_bytes() {
        return Err("other format version".into());
    }
    let packed = zstd::decode_all(body).map_err(|e| e.to_string())?;
    let mut rest = packed.as_slice();
    let index: LayerIndex =
        serde::Deserialize::deserialize(&mut rmp_serde::Deserializer::new(&mut rest))
            .map_err(|e| e.to_string())?;
    // Bytes after a valid index mean the file is not what we wrote.
    if rest.is_empty() {
        Ok(index)
    } else {
        Err("trailing data".into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixture::{file, layer, symlink, whiteout};
    use crate::scan::{Compression, scan_layer};

    fn scanned() -> (LayerInfo, LayerIndex) {
        let l = layer(vec![
            file(
                "usr/lib/python3/site-packages/x-1.0.dist-info/RECORD",
                b"x/__init__.py,,\n",
            ),
            file("a/b", b"hello"),
            symlink("a/c", "b"),
            whiteout("gone"),
        ]);
        let blob = l.blob(Compression::Gzip);
        let info = LayerInfo {
            digest: Digest::of(&blob),
            diff_id: Some(crate::DiffId(Digest::of(&l.tar()))),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            blob_bytes: blob.len() as u64,
            compressed_bytes: Some(blob.len() as u64),
            created_by: None,
        };
        let index = scan_layer(blob.as_slice(), &info, crate::scan::Verify::DiffIds).unwrap();
        (info, index)
    }

    #[test]
    fn round_trip_equals_the_scan() {
        let (info, index) = scanned();
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path());
        assert!(cache.get(&info, Verify::DiffIds).is_none());
        assert!(cache.put(&info, &index).unwrap());
        let back = cache.get(&info, Verify::DiffIds).unwrap();
        assert_eq!(format!("{back:?}"), format!("{index:?}"));
        // Only the final file is left: no temporary files behind.
        assert_eq!(fs::read_dir(cache.dir()).unwrap().count(), 1);
    }

    #[test]
    fn corrupt_or_foreign_files_are_misses() {
        let (info, index) = scanned();
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path());
        cache.put(&info, &index).unwrap();
        let path = cache.path(&info.digest).unwrap();
        let good = fs::read(&path).unwrap();

        for bad in [
            Vec::new(),
            b"garbage".to_vec(),
            good[..good.len() / 2].to_vec(),
            [good.as_slice(), b"x"].concat(),
        ] {
            fs::write(&path, &bad).unwrap();
            assert!(
                cache.get(&info, Verify::DiffIds).is_none(),
                "{} bytes accepted",
                bad.len()
            );
        }
        // A valid index filed under another layer's digest is not trusted.
        let mut other = info.clone();
        other.digest = Digest::of(b"another blob");
        fs::write(cache.path(&other.digest).unwrap(), &good).unwrap();
        assert!(cache.get(&other, Verify::DiffIds).is_none());
        // Nor one whose diff id disagrees with the config.
        fs::write(&path, &good).unwrap();
        let mut wrong_diff = info.clone();
        wrong_diff.diff_id = Some(crate::DiffId(Digest::of(b"other tar")));
        assert!(cache.get(&wrong_diff, Verify::DiffIds).is_none());
        assert!(cache.get(&info, Verify::DiffIds).is_some());
    }

    #[test]
    fn schema_tag_comes_from_a_real_probe_scan() {
        let tag = schema_tag();
        assert_eq!(tag.len(), 12, "{tag}");
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
        let dir = LayerCache::new(Path::new("/c")).dir().to_owned();
        assert!(
            dir.to_string_lossy().ends_with(&format!("-{tag}")),
            "{}",
            dir.display()
        );
    }

    #[test]
    fn unverified_indexes_are_not_served_to_verifying_runs() {
        let (info, _) = scanned();
        let l = layer(vec![file("a/b", b"hello")]);
        let blob = l.blob(Compression::Gzip);
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path());
        let mut info = info;
        info.digest = Digest::of(&blob);
        info.diff_id = None;
        let trusted = scan_layer(blob.as_slice(), &info, Verify::Trust).unwrap();
        assert!(cache.put(&info, &trusted).unwrap());
        assert!(cache.get(&info, Verify::Trust).is_some());
        assert!(cache.get(&info, Verify::BlobDigest).is_none());
        assert!(cache.get(&info, Verify::DiffIds).is_none());
        let checked = scan_layer(blob.as_slice(), &info, Verify::BlobDigest).unwrap();
        assert!(cache.put(&info, &checked).unwrap());
        assert!(cache.get(&info, Verify::Trust).is_some());
        assert!(cache.get(&info, Verify::BlobDigest).is_some());
        assert!(cache.get(&info, Verify::DiffIds).is_none());
    }

    #[test]
    fn sha512_layers_are_cached_under_their_digest() {
        use sha2::{Digest as _, Sha512};
        let (mut info, index) = scanned();
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path());
        let hex = hex::encode(Sha512::digest(b"blob"));
        info.digest = Digest::parse(&format!("sha512:{hex}")).unwrap();
        let mut index = index;
        index.digest = info.digest.clone();
        assert!(cache.put(&info, &index).unwrap());
        assert!(
            cache
                .path(&info.digest)
                .unwrap()
                .ends_with(format!("sha512-{hex}.idx"))
        );
        assert!(cache.get(&info, Verify::DiffIds).is_some());
    }

    #[test]
    fn only_regular_files_are_read() {
        let (info, index) = scanned();
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path());
        cache.put(&info, &index).unwrap();
        let path = cache.path(&info.digest).unwrap();
        let real = dir.path().join("elsewhere.idx");
        fs::rename(&path, &real).unwrap();
        // A symlink to a valid index is not followed.
        std::os::unix::fs::symlink(&real, &path).unwrap();
        assert!(cache.get(&info, Verify::Trust).is_none());
        fs::remove_file(&path).unwrap();
        // A directory or a FIFO in its place is a miss, and does not block.
        fs::create_dir(&path).unwrap();
        assert!(cache.get(&info, Verify::Trust).is_none());
        fs::remove_dir(&path).unwrap();
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        assert!(made.unwrap().success());
        assert!(cache.get(&info, Verify::Trust).is_none());
        fs::remove_file(&path).unwrap();
        fs::rename(&real, &path).unwrap();
        assert!(cache.get(&info, Verify::Trust).is_some());
    }

    /// Size and speed of candidate encodings for a 100 000-entry layer
    /// (BENCHMARKS): `cargo test --release --lib -- --ignored cache_format_figures --nocapture`.
    #[test]
    #[ignore = "measurement, run by hand in release mode"]
    #[allow(clippy::print_stderr)]
    fn cache_format_figures() {
        use std::time::Instant;

        use crate::scan::{EntryKind, EntryPath};
        let (_, mut index) = scanned();
        let template = index
            .entries
            .iter()
            .find(|e| e.kind == EntryKind::File)
            .unwrap()
            .clone();
        index.entries = (0..100_000u32)
            .map(|i| {
                let mut e = template.clone();
                e.path = EntryPath::normalize(
                    format!("usr/lib/python3/site-packages/pkg{}/mod{i}.py", i % 1000).as_bytes(),
                );
                let mut sha = [0u8; 16];
                sha[..4].copy_from_slice(&i.to_le_bytes());
                sha[4..8].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
                e.hash = Some(sha);
                e.size = u64::from(i % 5000);
                e
            })
            .collect();
        let t = Instant::now();
        let packed = encode(&index).unwrap();
        let enc = t.elapsed();
        let t = Instant::now();
        let back = decode(&packed).unwrap();
        let dec = t.elapsed();
        assert_eq!(back.entries.len(), 100_000);
        eprintln!(
            "msgpack+zstd: {} bytes, encode {enc:?}, decode {dec:?}",
            packed.len()
        );

        let t = Instant::now();
        let json = zstd::encode_all(serde_json::to_vec(&index).unwrap().as_slice(), LEVEL).unwrap();
        let enc = t.elapsed();
        let t = Instant::now();
        let back: LayerIndex =
            serde_json::from_slice(&zstd::decode_all(json.as_slice()).unwrap()).unwrap();
        let dec = t.elapsed();
        assert_eq!(back.entries.len(), 100_000);
        eprintln!(
            "json+zstd:    {} bytes, encode {enc:?}, decode {dec:?}",
            json.len()
        );
    }
}

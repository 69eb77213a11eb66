//! Reading one layer stream into a [`LayerIndex`].

use std::io::{self, BufRead, BufReader, Read};

use sha2::{Digest as _, Sha256};

use super::{
    Captured, Compression, Entry, EntryKind, EntryPath, LayerIndex, capture, elf::ElfScanner,
};
use crate::digest::{DiffId, Digest};
use crate::source::LayerInfo;

/// Buffer size for blob and tar reads: small reads cost a quarter of the
/// throughput (see STACK.md).
const BUF: usize = 256 << 10;

/// Why a layer could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Reading or decompressing the stream failed (a truncated or corrupt
    /// blob, or the source failed).
    #[error("{what}: {source}")]
    Read {
        /// What was being read.
        what: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The compression is not one layerscope reads.
    #[error(transparent)]
    Unsupported(#[from] super::compression::Unsupported),
    /// The blob's sha256 is not the digest the manifest names.
    #[error("blob digest mismatch: the manifest says {expected}, the bytes hash to {actual}")]
    DigestMismatch {
        /// From the manifest.
        expected: Digest,
        /// Computed.
        actual: Digest,
    },
    /// The uncompressed stream's sha256 is not the config's diff id.
    #[error(
        "diff id mismatch: the config says {expected}, the uncompressed layer hashes to {actual}"
    )]
    DiffIdMismatch {
        /// From the config.
        expected: DiffId,
        /// Computed.
        actual: DiffId,
    },
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    fn finish(self) -> ([u8; 32], u64) {
        (self.hasher.finalize().into(), self.count)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Scans one layer blob, verifying it against what the manifest and config
/// say about it. The stream is always read to its end.
pub fn scan_layer(blob: impl Read + Send, expected: &LayerInfo) -> Result<LayerIndex, ScanError> {
    let mut blob = Hashing::new(blob);
    let (compression, tar_hash, uncompressed_bytes, entries, captured) = {
        let mut buffered = BufReader::with_capacity(BUF, &mut blob);
        let head = buffered.fill_buf().map_err(|source| ScanError::Read {
            what: "reading layer",
            source,
        })?;
        let compression = Compression::sniff(head)?;
        let decoder = compression
            .decoder(buffered)
            .map_err(|source| ScanError::Read {
                what: "starting decompression",
                source,
            })?;
        let mut tar = Hashing::new(decoder);
        let (entries, captured) = walk_tar(&mut tar, compression)?;
        // The tar end marker may be followed by padding: the diff id covers it.
        io::copy(&mut tar, &mut io::sink()).map_err(|source| read_error(compression, source))?;
        let (hash, count) = tar.finish();
        (compression, hash, count, entries, captured)
    };
    // Drain anything after the compressed stream so the digest covers the blob.
    io::copy(&mut blob, &mut io::sink()).map_err(|source| ScanError::Read {
        what: "reading layer",
        source,
    })?;
    let (blob_hash, compressed_bytes) = blob.finish();

    let digest = Digest::from_sha256(&blob_hash);
    if expected.digest.as_str().starts_with("sha256:") && digest != expected.digest {
        return Err(ScanError::DigestMismatch {
            expected: expected.digest.clone(),
            actual: digest,
        });
    }
    let diff_id = DiffId(Digest::from_sha256(&tar_hash));
    if let Some(want) = &expected.diff_id
        && want.0.as_str().starts_with("sha256:")
        && *want != diff_id
    {
        return Err(ScanError::DiffIdMismatch {
            expected: want.clone(),
            actual: diff_id,
        });
    }
    Ok(LayerIndex {
        digest,
        diff_id,
        compression,
        compressed_bytes,
        uncompressed_bytes,
        entries,
        captured,
    })
}

fn read_error(compression: Compression, source: io::Error) -> ScanError {
    let what = match compression {
        Compression::Gzip => "corrupt or truncated gzip stream",
        Compression::Zstd => "corrupt or truncated zstd stream",
        Compression::None => "corrupt or truncated tar stream",
    };
    ScanError::Read { what, source }
}

/// Walks the tar entries, hashing every regular file.
fn walk_tar(
    stream: &mut impl Read,
    compression: Compression,
) -> Result<(Vec<Entry>, Vec<Captured>), ScanError> {
    let mut archive = tar::Archive::new(BufReader::with_capacity(BUF, stream));
    let mut entries = Vec::new();
    let mut captured = Vec::new();
    let mut buf = vec![0u8; BUF];
    let iter = archive.entries().map_err(|e| read_error(compression, e))?;
    for item in iter {
        let mut item = item.map_err(|e| read_error(compression, e))?;
        let header = item.header();
        let entry_type = header.entry_type();
        let kind = match entry_type {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                EntryKind::File
            }
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::HardLink,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                EntryKind::Special
            }
            // PAX global headers and other metadata records are not files.
            _ => continue,
        };
        let mode = header.mode().unwrap_or(0);
        let uid = header
            .uid()
            .map_or(0, |u| u32::try_from(u).unwrap_or(u32::MAX));
        let gid = header
            .gid()
            .map_or(0, |g| u32::try_from(g).unwrap_or(u32::MAX));
        let raw_path = item.path_bytes().into_owned();
        let link = item.link_name_bytes().map(|l| EntryPath::normalize(&l));
        let path = EntryPath::normalize(&raw_path);

        let name = path.file_name();
        if let Some(target) = name.strip_prefix(b".wh.") {
            let parent = path.parent().to_vec();
            let (kind, path) = if target == b".wh..opq" {
                (EntryKind::Opaque, EntryPath::normalize(&parent))
            } else if target.starts_with(b".wh.") {
                // aufs bookkeeping (`.wh..wh.plnk` ...), not a whiteout.
                continue;
            } else {
                let mut deleted = parent;
                if !deleted.is_empty() {
                    deleted.push(b'/');
                }
                deleted.extend_from_slice(target);
                (EntryKind::Whiteout, EntryPath::normalize(&deleted))
            };
            entries.push(Entry {
                path,
                kind,
                size: 0,
                mode,
                uid,
                gid,
                link: None,
                sha256: None,
                elf: None,
            });
            continue;
        }

        let mut entry = Entry {
            path,
            kind,
            size: 0,
            mode,
            uid,
            gid,
            link,
            sha256: None,
            elf: None,
        };
        if kind == EntryKind::File {
            let size = item.size();
            let keep = capture::wants(&entry.path, size);
            let mut kept = Vec::new();
            let mut hasher = Sha256::new();
            let mut elf = ElfScanner::new();
            let mut read = 0u64;
            loop {
                let n = item
                    .read(&mut buf)
                    .map_err(|e| read_error(compression, e))?;
                if n == 0 {
                    break;
                }
                let chunk = &buf[..n];
                hasher.update(chunk);
                elf.feed(chunk);
                if keep {
                    kept.extend_from_slice(chunk);
                }
                read += n as u64;
            }
            if read != size {
                return Err(ScanError::Read {
                    what: "truncated tar stream",
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("`{}` ends after {read} of {size} bytes", entry.path),
                    ),
                });
            }
            entry.size = read;
            entry.sha256 = Some(hasher.finalize().into());
            entry.elf = elf.finish();
            if keep {
                captured.push(Captured {
                    entry: entries.len() as u32,
                    data: kept,
                });
            }
        }
        entries.push(entry);
    }
    Ok((entries, captured))
}

//! Reading one layer stream into a [`LayerIndex`].

use std::io::{self, BufReader, Read};

use sha2::{Digest as _, Sha256};

use super::{
    Captured, Compression, Entry, EntryKind, EntryPath, LayerIndex, Verify, capture,
    elf::ElfScanner,
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
    /// Off: only count (the hash would repeat one computed elsewhere).
    enabled: bool,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
            enabled: true,
        }
    }

    fn finish(self) -> ([u8; 32], u64) {
        (self.hasher.finalize().into(), self.count)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.enabled {
            self.hasher.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// Scans one layer blob, verifying it against what the manifest and config
/// say about it (how far: [`Verify`]). The stream is always read to its end.
///
/// Threads share the work, handing buffers down [`super::pipe`]s: this one
/// walks the tar and hashes every file (and the uncompressed stream when the
/// diff id is computed); a scoped helper reads the blob and hashes it; for a
/// compressed blob a third one inflates. For an uncompressed blob the diff
/// id is the blob digest, so its bytes are hashed once, not twice.
pub fn scan_layer(
    blob: impl Read + Send,
    expected: &LayerInfo,
    verify: Verify,
) -> Result<LayerIndex, ScanError> {
    let mut blob = Hashing::new(blob);
    let mut sampler = super::sample::Sampler::default();
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        match blob.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(ScanError::Read {
                    what: "reading layer",
                    source,
                });
            }
        }
    }
    let compression = Compression::sniff(&head[..got])?;
    // The config's diff id stands unless it must or can only be computed.
    let trusted_diff_id = match &expected.diff_id {
        Some(d)
            if verify == Verify::BlobDigest
                && compression != Compression::None
                && d.0.as_str().starts_with("sha256:")
                && expected.digest.as_str().starts_with("sha256:") =>
        {
            Some(d.clone())
        }
        _ => None,
    };
    let (tar_writer, tar_reader) = super::pipe::channel();

    let (read, inflated, walked) = std::thread::scope(|s| {
        // A compressed blob is read and hashed on one thread and inflated on
        // another, so that inflating, the critical path of one huge layer,
        // does nothing else. An uncompressed blob is its own tar stream: the
        // reading thread feeds the walker directly.
        let (feed, inflater) = if compression == Compression::None {
            (tar_writer, None)
        } else {
            let (raw_writer, raw_reader) = super::pipe::channel();
            let inflater = s.spawn(move || inflate(compression, raw_reader, tar_writer));
            (raw_writer, Some(inflater))
        };
        let blob_reader = s.spawn(move || -> Result<([u8; 32], u64), ScanError> {
            // A read error reaches the walker through the channel and is
            // reported from there, with the tar context.
            match feed.pump(&mut Read::chain(&head[..got], &mut blob)) {
                Ok(true) => Ok(blob.finish()),
                Ok(false) => Err(ScanError::Read {
                    what: "reading layer",
                    source: io::Error::other("the layer's reader stopped early"),
                }),
                Err(source) => Err(ScanError::Read {
                    what: "reading layer",
                    source,
                }),
            }
        });
        let walked = (|| {
            let mut tar = Hashing::new(sampler.tap(tar_reader));
            tar.enabled = compression != Compression::None && trusted_diff_id.is_none();
            let (entries, captured) = walk_tar(&mut tar, compression)?;
            // The tar end marker may be followed by padding: the diff id covers it.
            io::copy(&mut tar, &mut io::sink())
                .map_err(|source| read_error(compression, source))?;
            let (hash, count) = tar.finish();
            Ok::<_, ScanError>((hash, count, entries, captured))
        })();
        // `walked` dropped its reader: still-running threads see the
        // hang-up and stop.
        let inflated = inflater.map_or(Ok(()), |t| joined(t, "decompressing layer"));
        (joined(blob_reader, "reading layer"), inflated, walked)
    });
    let ((blob_hash, compressed_bytes), (tar_hash, uncompressed_bytes, entries, captured)) =
        match (read, inflated, walked) {
            (
                _,
                Err(
                    e @ ScanError::Read {
                        what: "starting decompression",
                        ..
                    },
                ),
                _,
            ) => return Err(e),
            (_, _, Err(e)) | (_, Err(e), Ok(_)) | (Err(e), Ok(()), Ok(_)) => return Err(e),
            (Ok(blob), Ok(()), Ok(walked)) => (blob, walked),
        };
    // An uncompressed blob is its own tar stream: same bytes, same hash.
    let tar_hash = if compression == Compression::None {
        blob_hash
    } else {
        tar_hash
    };

    let digest = Digest::from_sha256(&blob_hash);
    if expected.digest.as_str().starts_with("sha256:") && digest != expected.digest {
        return Err(ScanError::DigestMismatch {
            expected: expected.digest.clone(),
            actual: digest,
        });
    }
    let diff_id = trusted_diff_id.unwrap_or_else(|| DiffId(Digest::from_sha256(&tar_hash)));
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
        sample: Some(sampler.finish()),
    })
}

/// Inflates `raw` into `writer`, then reads `raw` to its end, so that the
/// reading thread hashes the whole blob (bytes after the compressed stream
/// included).
fn inflate(
    compression: Compression,
    raw: impl Read + Send,
    writer: super::pipe::ChunkWriter,
) -> Result<(), ScanError> {
    let mut buffered = BufReader::with_capacity(BUF, raw);
    {
        let mut decoder = match compression.decoder(&mut buffered) {
            Ok(d) => d,
            Err(source) => {
                writer.fail(&source);
                return Err(ScanError::Read {
                    what: "starting decompression",
                    source,
                });
            }
        };
        // A read error reaches the walker through the channel and is
        // reported from there, with the tar context.
        match writer.pump(&mut decoder) {
            Ok(true) => {}
            Ok(false) => {
                let source = io::Error::other("the tar walker stopped early");
                return Err(ScanError::Read {
                    what: "reading layer",
                    source,
                });
            }
            Err(source) => return Err(read_error(compression, source)),
        }
    }
    io::copy(&mut buffered, &mut io::sink()).map_err(|source| ScanError::Read {
        what: "reading layer",
        source,
    })?;
    Ok(())
}

/// The result of a scoped thread; a panic becomes an error naming `what`.
fn joined<T>(
    thread: std::thread::ScopedJoinHandle<'_, Result<T, ScanError>>,
    what: &'static str,
) -> Result<T, ScanError> {
    thread.join().unwrap_or_else(|_| {
        Err(ScanError::Read {
            what,
            source: io::Error::other("a scanning thread panicked"),
        })
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
    // The stream arrives in large buffers already (see `pipe`): no BufReader.
    let mut archive = tar::Archive::new(stream);
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
            entry.elf = elf.finish().map(Box::new);
            if keep {
                captured.push(Captured {
                    entry: entries.len() as u32,
                    data: kept,
                });
            }
        }
        entries.push(entry);
    }
    // A million entries leave up to half their vector's capacity unused.
    entries.shrink_to_fit();
    Ok((entries, captured))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixture::{self, file, layer, pattern, whiteout};

    fn info(blob: &[u8], tar: &[u8]) -> LayerInfo {
        LayerInfo {
            digest: Digest::from_sha256(&Sha256::digest(blob).into()),
            diff_id: Some(DiffId(Digest::from_sha256(&Sha256::digest(tar).into()))),
            media_type: String::new(),
            blob_bytes: blob.len() as u64,
            compressed_bytes: Some(blob.len() as u64),
            created_by: None,
        }
    }

    /// A layer several pipe buffers long, so that files straddle buffers.
    fn big_layer() -> fixture::Layer {
        let big = super::super::pipe::CHUNK * 3 + 777;
        layer(vec![
            file("usr/lib/a.py", b"print(1)\n"),
            file("usr/lib/libbig.so", pattern(big, 7)),
            file("usr/lib/b.py", pattern(5000, 3)),
            whiteout("tmp/x"),
        ])
    }

    #[test]
    fn pipelined_scan_hashes_every_file_in_every_compression() {
        let l = big_layer();
        let tar = l.tar();
        let big = super::super::pipe::CHUNK * 3 + 777;
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let blob = l.blob(c);
            let idx = scan_layer(blob.as_slice(), &info(&blob, &tar), Verify::DiffIds).unwrap();
            assert_eq!(idx.compression, c);
            assert_eq!(idx.compressed_bytes, blob.len() as u64);
            assert_eq!(idx.uncompressed_bytes, tar.len() as u64);
            let sizes: Vec<u64> = idx.entries.iter().map(|e| e.size).collect();
            assert_eq!(sizes, vec![9, big as u64, 5000, 0]);
            let want: [u8; 32] = Sha256::digest(pattern(big, 7)).into();
            assert_eq!(idx.entries[1].sha256, Some(want));
            assert_eq!(idx.entries[3].kind, EntryKind::Whiteout);
        }
    }

    #[test]
    fn uncompressed_diff_id_is_still_checked() {
        let l = big_layer();
        let tar = l.tar();
        let mut wrong = info(&tar, &tar);
        wrong.diff_id = Some(DiffId(Digest::from_sha256(&[1; 32])));
        assert!(matches!(
            scan_layer(tar.as_slice(), &wrong, Verify::BlobDigest),
            Err(ScanError::DiffIdMismatch { .. })
        ));
    }

    #[test]
    fn truncated_or_corrupt_gzip_is_an_error() {
        let l = big_layer();
        let tar = l.tar();
        let blob = l.blob(Compression::Gzip);
        let cut = &blob[..blob.len() / 2];
        let err = scan_layer(cut, &info(cut, &tar), Verify::BlobDigest)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("corrupt or truncated gzip stream"), "{err}");
        let mut bad = blob.clone();
        let mid = bad.len() / 2;
        for b in &mut bad[mid..mid + 64] {
            *b ^= 0x5a;
        }
        assert!(scan_layer(bad.as_slice(), &info(&bad, &tar), Verify::BlobDigest).is_err());
    }

    #[test]
    fn a_failing_source_is_reported_not_hung() {
        struct Fails(Vec<u8>, usize);
        impl Read for Fails {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() / 3 {
                    return Err(io::Error::other("disk gone"));
                }
                let n = buf.len().min(self.0.len() - self.1).min(4096);
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let l = big_layer();
        let tar = l.tar();
        for c in [Compression::None, Compression::Gzip] {
            let blob = l.blob(c);
            let err = scan_layer(
                Fails(blob.clone(), 0),
                &info(&blob, &tar),
                Verify::BlobDigest,
            )
            .err()
            .map(|e| e.to_string());
            assert!(err.unwrap_or_default().contains("disk gone"));
        }
    }
}

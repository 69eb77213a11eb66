//! Reading one layer stream into a [`LayerIndex`].

use std::io::{self, BufReader, Read};

use super::hash::{Hashing, TappedStream};
use super::{Compression, LayerIndex, Verify, tarwalk::TarError};
use crate::digest::{Algorithm, DiffId, Digest};
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
    /// The tar stream is malformed, or an entry exceeds a limit (named).
    #[error("tar stream: {0}")]
    Tar(TarError),
    /// The compression is not one layerscope reads.
    #[error(transparent)]
    Unsupported(#[from] super::compression::Unsupported),
    /// The blob's hash is not the digest the manifest names.
    #[error("blob digest mismatch: the manifest says {expected}, the bytes hash to {actual}")]
    DigestMismatch {
        /// From the manifest.
        expected: Digest,
        /// Computed.
        actual: Digest,
    },
    /// The uncompressed stream's hash is not the config's diff id.
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

/// Which digests one scan computes, decided before reading.
struct Plan {
    /// Hash the blob in this algorithm (to verify it against the manifest).
    blob: Option<Algorithm>,
    /// Hash the uncompressed stream in this algorithm on the walker thread.
    tar: Option<Algorithm>,
    /// The diff id is the blob's hash (an uncompressed blob hashed anyway).
    diff_is_blob: bool,
}

impl Plan {
    fn new(expected: &LayerInfo, verify: Verify, compression: Compression) -> Plan {
        let blob = (verify >= Verify::BlobDigest).then(|| expected.digest.algorithm());
        let diff_algo = expected
            .diff_id
            .as_ref()
            .map_or(Algorithm::Sha256, |d| d.0.algorithm());
        // The diff id is computed when the config gives none, when asked,
        // and for an uncompressed blob whose digest is checked (its own tar).
        let compute_diff = expected.diff_id.is_none()
            || verify == Verify::DiffIds
            || (verify == Verify::BlobDigest && compression == Compression::None);
        let diff_is_blob =
            compute_diff && compression == Compression::None && blob == Some(diff_algo);
        Plan {
            blob,
            tar: (compute_diff && !diff_is_blob).then_some(diff_algo),
            diff_is_blob,
        }
    }
}

/// Scans one layer blob, checking it against what the manifest and config
/// say about it as far as `verify` asks. The stream is always read to its
/// end.
///
/// Threads share the work, handing buffers down [`super::pipe`]s: this one
/// walks the tar and hashes every file (and the uncompressed stream when the
/// diff id is computed); a scoped helper reads the blob (and hashes it when
/// verifying); for a compressed blob a third one inflates. For an
/// uncompressed blob the diff id is the blob digest, so its bytes are hashed
/// once, not twice.
pub fn scan_layer(
    blob: impl Read + Send,
    expected: &LayerInfo,
    verify: Verify,
) -> Result<LayerIndex, ScanError> {
    let mut head = [0u8; 8];
    let mut blob = blob;
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
    let plan = Plan::new(expected, verify, compression);
    let mut blob = Hashing::new(Read::chain(&head[..got], blob), plan.blob);
    let mut sampler = super::sample::Sampler::default();
    let (tar_writer, tar_reader) = super::pipe::channel();

    let (read, inflated, walked) = std::thread::scope(|s| {
        // A compressed blob is read (and hashed) on one thread and inflated
        // on another, so that inflating, the critical path of one huge
        // layer, does nothing else. An uncompressed blob is its own tar
        // stream: the reading thread feeds the walker directly.
        let (feed, inflater) = if compression == Compression::None {
            (tar_writer, None)
        } else {
            let (raw_writer, raw_reader) = super::pipe::channel();
            let inflater = s.spawn(move || inflate(compression, raw_reader, tar_writer));
            (raw_writer, Some(inflater))
        };
        let blob_reader = s.spawn(move || -> Result<(Option<Digest>, u64), ScanError> {
            // A read error reaches the walker through the channel and is
            // reported from there, with the tar context.
            match feed.pump(&mut blob) {
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
            let mut tar = TappedStream::new(tar_reader, &mut sampler, plan.tar);
            let (entries, captured, warnings, sparse, content) =
                super::walk::walk_tar(&mut tar, compression)?;
            // The tar end marker may be followed by padding: the diff id covers it.
            let (hash, count) = tar
                .finish()
                .map_err(|source| read_error(compression, source))?;
            Ok::<_, ScanError>((hash, count, entries, captured, warnings, sparse, content))
        })();
        // `walked` dropped its reader: still-running threads see the
        // hang-up and stop.
        let inflated = inflater.map_or(Ok(()), |t| joined(t, "decompressing layer"));
        (joined(blob_reader, "reading layer"), inflated, walked)
    });
    let (
        (blob_hash, compressed_bytes),
        (tar_hash, uncompressed_bytes, entries, captured, warnings, sparse, content),
    ) = match (read, inflated, walked) {
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
    if let Some(actual) = &blob_hash
        && *actual != expected.digest
    {
        return Err(ScanError::DigestMismatch {
            expected: expected.digest.clone(),
            actual: actual.clone(),
        });
    }
    let computed = if plan.diff_is_blob {
        blob_hash
    } else {
        tar_hash
    };
    let diff_id = match (computed, &expected.diff_id) {
        (Some(actual), Some(want)) if actual != want.0 => {
            return Err(ScanError::DiffIdMismatch {
                expected: want.clone(),
                actual: DiffId(actual),
            });
        }
        (Some(actual), _) => DiffId(actual),
        (None, Some(want)) => want.clone(),
        // Plan::new computes the diff id whenever the config has none.
        (None, None) => DiffId(expected.digest.clone()),
    };
    Ok(LayerIndex {
        digest: expected.digest.clone(),
        diff_id,
        verified: verify,
        compression,
        compressed_bytes,
        uncompressed_bytes,
        entries,
        captured,
        sample: Some(sampler.finish()),
        content: Some(content),
        warnings,
        sparse,
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

pub(super) fn read_error(compression: Compression, source: io::Error) -> ScanError {
    // `zstd_frames` refuses long windows with this kind (the decoder never
    // uses it), and the pipes keep the kind.
    let window = source.kind() == io::ErrorKind::Unsupported;
    let what = match compression {
        Compression::Zstd if window => "unsupported zstd stream",
        Compression::Gzip => "corrupt or truncated gzip stream",
        Compression::Zstd => "corrupt or truncated zstd stream",
        Compression::None => "corrupt or truncated tar stream",
    };
    ScanError::Read { what, source }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::EntryKind;
    use super::super::hash::{FileHash, SMALL_FILE};
    use super::*;
    use crate::fixture::{self, file, layer, pattern, whiteout};
    use xxhash_rust::xxh3::xxh3_128;

    fn info(blob: &[u8], tar: &[u8]) -> LayerInfo {
        LayerInfo {
            digest: Digest::of(blob),
            diff_id: Some(DiffId(Digest::of(tar))),
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
            // Independent: xxh3-128 of the file's bytes in one call.
            let want = xxh3_128(&pattern(big, 7)).to_le_bytes();
            assert_eq!(idx.entries[1].hash, Some(want));
            assert_eq!(
                idx.entries[2].hash,
                Some(xxh3_128(&pattern(5000, 3)).to_le_bytes())
            );
            assert_eq!(idx.entries[3].kind, EntryKind::Whiteout);
        }
    }

    #[test]
    fn uncompressed_diff_id_is_still_checked() {
        let l = big_layer();
        let tar = l.tar();
        let mut wrong = info(&tar, &tar);
        wrong.diff_id = Some(DiffId(Digest::from_sha256(&[1; 32])));
        // Trusted (a local archive without --verify): nothing is checked.
        let idx = scan_layer(tar.as_slice(), &wrong, Verify::Trust).unwrap();
        assert_eq!(idx.diff_id, *wrong.diff_id.as_ref().unwrap());
        assert_eq!(idx.verified, Verify::Trust);
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

    /// A blob whose bytes do not match its digest: a tampered local blob.
    fn tampered(c: Compression) -> (Vec<u8>, LayerInfo) {
        let l = big_layer();
        let good = l.blob(c);
        let info = info(&good, &l.tar());
        let other = layer(vec![file("usr/lib/a.py", b"print(2)\n")]);
        (other.blob(c), info)
    }

    #[test]
    fn verification_levels_check_what_they_say() {
        for c in [Compression::None, Compression::Gzip] {
            let (bad, info) = tampered(c);
            let trusted = scan_layer(bad.as_slice(), &info, Verify::Trust).unwrap();
            assert_eq!(trusted.verified, Verify::Trust);
            assert_eq!(trusted.digest, info.digest);
            for v in [Verify::BlobDigest, Verify::DiffIds] {
                assert!(matches!(
                    scan_layer(bad.as_slice(), &info, v),
                    Err(ScanError::DigestMismatch { .. })
                ));
            }
        }
        // A config lying about a compressed layer's diff id is caught only
        // when diff ids are verified.
        let l = big_layer();
        let blob = l.blob(Compression::Gzip);
        let mut lying = info(&blob, &l.tar());
        lying.diff_id = Some(DiffId(Digest::of(b"another tar")));
        assert!(scan_layer(blob.as_slice(), &lying, Verify::BlobDigest).is_ok());
        assert!(matches!(
            scan_layer(blob.as_slice(), &lying, Verify::DiffIds),
            Err(ScanError::DiffIdMismatch { .. })
        ));
    }

    #[test]
    fn sha512_digests_are_verified() {
        use sha2::{Digest as _, Sha512};
        let sha512 = |b: &[u8]| {
            Digest::parse(&format!("sha512:{}", hex::encode(Sha512::digest(b)))).unwrap()
        };
        let l = big_layer();
        let tar = l.tar();
        for c in [Compression::None, Compression::Gzip] {
            let blob = l.blob(c);
            let mut good = info(&blob, &tar);
            good.digest = sha512(&blob);
            good.diff_id = Some(DiffId(sha512(&tar)));
            let idx = scan_layer(blob.as_slice(), &good, Verify::DiffIds).unwrap();
            assert_eq!(idx.digest, good.digest);
            assert_eq!(idx.diff_id, *good.diff_id.as_ref().unwrap());
            let mut bad = good.clone();
            bad.digest = sha512(b"x");
            assert!(matches!(
                scan_layer(blob.as_slice(), &bad, Verify::BlobDigest),
                Err(ScanError::DigestMismatch { .. })
            ));
            let mut bad = good.clone();
            bad.diff_id = Some(DiffId(sha512(b"x")));
            assert!(matches!(
                scan_layer(blob.as_slice(), &bad, Verify::DiffIds),
                Err(ScanError::DiffIdMismatch { .. })
            ));
        }
    }

    #[test]
    fn file_hash_is_the_same_however_the_file_arrives() {
        for size in [
            0usize,
            1,
            1000,
            SMALL_FILE as usize,
            SMALL_FILE as usize + 1,
            300_000,
        ] {
            let data = pattern(size, 9);
            let want = xxh3_128(&data).to_le_bytes();
            for piece in [1usize, 7, 4096, 65_536, usize::MAX] {
                let mut h = FileHash::Start(size as u64);
                for chunk in data.chunks(piece.min(size.max(1))) {
                    h.update(chunk);
                }
                assert_eq!(h.finish(), want, "size {size}, pieces of {piece}");
            }
        }
    }
}

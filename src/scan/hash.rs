//! Hashing on the way through: a counting, optionally digesting reader for
//! blob and tar streams (sha256/sha512, where a spec defines the digest),
//! and the xxh3-128 content hash of each file.

use std::io::{self, BufRead, Read};

use xxhash_rust::xxh3::{Xxh3, xxh3_128};

use super::pipe::ChunkReader;
use super::sample::Sampler;
use crate::digest::{Algorithm, Digest, Hasher};

/// A reader that counts what passes through it, and hashes it when given
/// a hasher.
pub(super) struct Hashing<R> {
    inner: R,
    hasher: Option<Hasher>,
    count: u64,
}

impl<R: Read> Hashing<R> {
    pub(super) fn new(inner: R, algorithm: Option<Algorithm>) -> Self {
        Hashing {
            inner,
            hasher: algorithm.map(Hasher::new),
            count: 0,
        }
    }

    pub(super) fn finish(self) -> (Option<Digest>, u64) {
        (self.hasher.map(Hasher::finish), self.count)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// The uncompressed tar stream as the walker reads it: every buffer that
/// arrives is counted, fed to the layer's compressibility [`Sampler`] and
/// hashed when the diff id is computed, once and whole, before the walker
/// reads it in place ([`BufRead`]).
pub(super) struct TappedStream<'a> {
    inner: ChunkReader,
    sampler: &'a mut Sampler,
    hasher: Option<Hasher>,
    count: u64,
}

impl<'a> TappedStream<'a> {
    pub(super) fn new(
        inner: ChunkReader,
        sampler: &'a mut Sampler,
        algorithm: Option<Algorithm>,
    ) -> Self {
        TappedStream {
            inner,
            sampler,
            hasher: algorithm.map(Hasher::new),
            count: 0,
        }
    }

    /// Reads the stream to its end (what follows the tar end marker is
    /// hashed too), then returns its digest and length.
    pub(super) fn finish(mut self) -> io::Result<(Option<Digest>, u64)> {
        loop {
            let n = self.fill_buf()?.len();
            if n == 0 {
                break;
            }
            self.consume(n);
        }
        Ok((self.hasher.map(Hasher::finish), self.count))
    }
}

impl BufRead for TappedStream<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let (sampler, hasher, count) = (&mut *self.sampler, &mut self.hasher, &mut self.count);
        self.inner.fill_with(&mut |chunk| {
            sampler.feed(chunk);
            if let Some(h) = hasher.as_mut() {
                h.update(chunk);
            }
            *count += chunk.len() as u64;
        })
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
    }
}

impl Read for TappedStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        super::pipe::read_buffered(self, out)
    }
}

/// The content hash of a file's bytes: xxh3-128 (BENCHMARKS.md, "file
/// identity"). It tells equal contents apart from different ones; it is
/// not a cryptographic digest and is never shown as one.
pub fn content_hash(data: &[u8]) -> [u8; 16] {
    xxh3_128(data).to_le_bytes()
}

/// Files up to this size that arrive in pieces are gathered and hashed in
/// one call, which is faster than the streaming state for small inputs.
pub(super) const SMALL_FILE: u64 = 64 << 10;

/// [`content_hash`] over a file that arrives in chunks.
pub(super) enum FileHash {
    /// Nothing read yet; the file's size.
    Start(u64),
    /// A small file gathered from several chunks.
    Small(Vec<u8>),
    /// A large file.
    Stream(Box<Xxh3>),
    /// The whole file came in one chunk.
    Done([u8; 16]),
}

impl FileHash {
    pub(super) fn update(&mut self, chunk: &[u8]) {
        match self {
            FileHash::Start(size) if chunk.len() as u64 == *size => {
                *self = FileHash::Done(content_hash(chunk));
            }
            FileHash::Start(size) if *size <= SMALL_FILE => {
                *self = FileHash::Small(chunk.to_vec());
            }
            FileHash::Start(_) => {
                let mut h = Box::new(Xxh3::new());
                h.update(chunk);
                *self = FileHash::Stream(h);
            }
            FileHash::Small(data) => data.extend_from_slice(chunk),
            FileHash::Stream(h) => h.update(chunk),
            // A tar entry never yields more than its size.
            FileHash::Done(_) => {}
        }
    }

    pub(super) fn finish(self) -> [u8; 16] {
        match self {
            FileHash::Start(_) => content_hash(&[]),
            FileHash::Small(data) => content_hash(&data),
            FileHash::Stream(h) => h.digest128().to_le_bytes(),
            FileHash::Done(h) => h,
        }
    }
}

//! Hashing on the way through: a counting, optionally digesting reader for
//! blob and tar streams (sha256/sha512, where a spec defines the digest),
//! and the xxh3-128 content hash of each file.

use std::io::{self, Read};

use xxhash_rust::xxh3::{Xxh3, xxh3_128};

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

//! Content digests: a layer's compressed blob [`Digest`] and its uncompressed
//! [`DiffId`] are distinct types so they can never be confused.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha512};

/// An OCI content digest such as `sha256:ab12…`: a registered algorithm
/// (`sha256` or `sha512`) and lowercase hex of its length.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

/// The digest of a layer's uncompressed tar stream (`rootfs.diff_ids`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DiffId(pub Digest);

/// A digest string that is not `ALGORITHM:HEX` with a registered
/// algorithm and lowercase hex of its length.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not a valid digest (expected `sha256:` and 64 or `sha512:` and 128 lowercase hex digits)"
)]
pub struct BadDigest(pub String);

/// A digest algorithm layerscope verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `sha256`.
    Sha256,
    /// `sha512`.
    Sha512,
}

/// A running hash in one [`Algorithm`].
#[derive(Clone)]
pub enum Hasher {
    /// sha256.
    Sha256(Sha256),
    /// sha512.
    Sha512(Sha512),
}

impl Hasher {
    /// A new hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest(format!("sha256:{}", hex::encode(h.finalize()))),
            Hasher::Sha512(h) => Digest(format!("sha512:{}", hex::encode(h.finalize()))),
        }
    }
}

impl Digest {
    /// Parses `sha256:<64 hex>` or `sha512:<128 hex>`, lowercase hex only
    /// (OCI image spec: uppercase is not a valid encoded digest).
    pub fn parse(s: &str) -> Result<Self, BadDigest> {
        let Some((algo, hex)) = s.split_once(':') else {
            return Err(BadDigest(s.to_owned()));
        };
        let ok_len = match algo {
            "sha256" => hex.len() == 64,
            "sha512" => hex.len() == 128,
            _ => false,
        };
        if !ok_len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(BadDigest(s.to_owned()));
        }
        Ok(Digest(s.to_owned()))
    }

    /// The algorithm (a parsed digest always has one layerscope verifies).
    pub fn algorithm(&self) -> Algorithm {
        if self.0.starts_with("sha512:") {
            Algorithm::Sha512
        } else {
            Algorithm::Sha256
        }
    }

    /// Whether `data` hashes to this digest, in this digest's algorithm.
    pub fn matches(&self, data: &[u8]) -> bool {
        let mut h = Hasher::new(self.algorithm());
        h.update(data);
        h.finish() == *self
    }

    /// The digest of a finished sha256 hash.
    pub fn from_sha256(bytes: &[u8; 32]) -> Self {
        Digest(format!("sha256:{}", hex::encode(bytes)))
    }

    /// The sha256 digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self::from_sha256(&Sha256::digest(data).into())
    }

    /// The full `algo:hex` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex part, without the algorithm.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(_, h)| h)
    }

    /// `sha256:` and the first 12 hex digits, for humans.
    pub fn short(&self) -> &str {
        let end = self.0.find(':').map_or(0, |i| i + 1) + 12;
        &self.0[..end.min(self.0.len())]
    }
}

impl TryFrom<String> for Digest {
    type Error = BadDigest;
    fn try_from(s: String) -> Result<Self, BadDigest> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for DiffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

//! Content digests: a layer's compressed blob [`Digest`] and its uncompressed
//! [`DiffId`] are distinct types so they can never be confused.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// An OCI content digest such as `sha256:ab12…`, always lower-case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

/// The digest of a layer's uncompressed tar stream (`rootfs.diff_ids`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DiffId(pub Digest);

/// A digest string that is not `ALGORITHM:HEX`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a digest (expected `sha256:` and 64 hex digits)")]
pub struct BadDigest(pub String);

impl Digest {
    /// Parses `sha256:<64 hex>` (other registered algorithms are accepted
    /// syntactically but only sha256 can be verified).
    pub fn parse(s: &str) -> Result<Self, BadDigest> {
        let Some((algo, hex)) = s.split_once(':') else {
            return Err(BadDigest(s.to_owned()));
        };
        let ok_len = match algo {
            "sha256" => hex.len() == 64,
            "sha512" => hex.len() == 128,
            _ => false,
        };
        if !ok_len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadDigest(s.to_owned()));
        }
        Ok(Digest(format!("{algo}:{}", hex.to_ascii_lowercase())))
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

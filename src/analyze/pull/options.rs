//! The pull model's settings: link speed, concurrency, the `--have`
//! images' layers and chain ids; `--bandwidth` parsing.

use std::collections::HashSet;

use crate::digest::{DiffId, Digest};
use crate::scan::Compression;
use crate::source::ImageInfo;

/// Settings of the pull model.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// Link speed in bits per second.
    pub bandwidth_bits_per_second: u64,
    /// Layers downloaded at once.
    pub concurrency: u32,
    /// The most one layer's download reaches, in bits per second
    /// (`None`: the link divided by the concurrency).
    pub stream_bits_per_second: Option<u64>,
    /// Layer digests the node already has (`--have`).
    pub have: HashSet<Digest>,
    /// Chain ids (OCI: a layer's diff id on top of its lower layers) the
    /// node already has unpacked (`--have`): containerd and Docker skip
    /// those layers whatever their blob's compression.
    pub have_chains: HashSet<Digest>,
    /// The history entries (`created_by`) of the `--have` images' layers:
    /// a layer of this image with a different digest but the same
    /// instruction was rebuilt, not changed on purpose.
    pub have_created_by: HashSet<String>,
    /// The `--have` references, for the report.
    pub have_images: Vec<String>,
    /// gzip decompression speed while unpacking, uncompressed bytes/s.
    pub gzip_bytes_per_second: u64,
    /// zstd decompression speed while unpacking, uncompressed bytes/s.
    pub zstd_bytes_per_second: u64,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            bandwidth_bits_per_second: 100_000_000,
            concurrency: 3,
            stream_bits_per_second: None,
            have: HashSet::new(),
            have_chains: HashSet::new(),
            have_created_by: HashSet::new(),
            have_images: Vec::new(),
            gzip_bytes_per_second: 250_000_000,
            zstd_bytes_per_second: 1_000_000_000,
        }
    }
}

impl PullOptions {
    /// Adds the layers of an image the node already has.
    pub fn add_have(&mut self, info: &ImageInfo) {
        self.have_images.push(info.reference.clone());
        self.have_chains.extend(
            chain_ids(info.layers.iter().map(|l| l.diff_id.as_ref()))
                .into_iter()
                .flatten(),
        );
        for l in &info.layers {
            self.have.insert(l.digest.clone());
            if let Some(c) = &l.created_by {
                self.have_created_by.insert(c.clone());
            }
        }
    }

    pub(super) fn decompress_rate(&self, compression: Option<Compression>) -> Option<u64> {
        match compression {
            Some(Compression::Gzip) => Some(self.gzip_bytes_per_second),
            Some(Compression::Zstd) => Some(self.zstd_bytes_per_second),
            _ => None,
        }
    }
}

/// The OCI chain ids of a stack of layers given their diff ids, bottom
/// first: `ChainID(L0) = DiffID(L0)`, `ChainID(Ln) = sha256(ChainID(Ln-1)
/// + " " + DiffID(Ln))`. `None` from the first layer without a diff id on.
pub fn chain_ids<'a>(diff_ids: impl Iterator<Item = Option<&'a DiffId>>) -> Vec<Option<Digest>> {
    let mut prev: Option<Digest> = None;
    let mut broken = false;
    diff_ids
        .map(|d| match d {
            Some(d) if !broken => {
                let next = match &prev {
                    None => d.0.clone(),
                    Some(p) => Digest::of(format!("{} {}", p.as_str(), d.0.as_str()).as_bytes()),
                };
                prev = Some(next.clone());
                Some(next)
            }
            _ => {
                broken = true;
                None
            }
        })
        .collect()
}

/// Why a `--bandwidth` value cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a bandwidth (examples: 100Mbit/s, 1Gbit/s, 50MB/s)")]
pub struct BadBandwidth(pub String);

/// Parses a bandwidth such as `100Mbit/s`, `1Gbit/s`, `1gbps`, `50MB/s`,
/// `12.5MiB/s` into bits per second. Bits unless the unit says bytes (`B`).
pub fn parse_bandwidth(text: &str) -> Result<u64, BadBandwidth> {
    let bad = || BadBandwidth(text.to_owned());
    let s = text.trim();
    let s = s
        .strip_suffix("/s")
        .or_else(|| s.strip_suffix("ps"))
        .unwrap_or(s);
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim();
    let (prefix, rest) = match unit.chars().next() {
        Some(c @ ('k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T')) => {
            (Some(c.to_ascii_lowercase()), &unit[1..])
        }
        _ => (None, unit),
    };
    let (binary, rest) = match rest.strip_prefix('i') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let bits_per_unit = match rest {
        "" | "b" | "bit" | "bits" => 1.0,
        "B" | "byte" | "bytes" => 8.0,
        _ => return Err(bad()),
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let scale = match prefix {
        None => 1.0,
        Some('k') => base,
        Some('m') => base.powi(2),
        Some('g') => base.powi(3),
        _ => base.powi(4),
    };
    let bits = value * scale * bits_per_unit;
    if !bits.is_finite() || bits < 1.0 || bits > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bits.round() as u64)
}

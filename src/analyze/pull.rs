//! Pull cost: what a node downloads, how long it takes, and how to cut it.

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::digest::Digest;
use crate::model::Image;

/// Settings of the pull model.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// Link speed in bits per second.
    pub bandwidth_bits_per_second: u64,
    /// Layers downloaded at once.
    pub concurrency: u32,
    /// Layer digests the node already has (`--have`).
    pub have: std::collections::HashSet<Digest>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            bandwidth_bits_per_second: 100_000_000,
            concurrency: 3,
            have: Default::default(),
        }
    }
}

/// The `pull` object of the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PullReport {
    /// Compressed bytes a node without any of the layers (or with only the
    /// `--have` ones) downloads.
    pub download_bytes: u64,
    /// Estimated seconds at the given bandwidth and concurrency.
    pub estimated_seconds: f64,
    /// The bandwidth assumed.
    pub bandwidth_bits_per_second: u64,
    /// The concurrency assumed.
    pub concurrency: u32,
    /// One row per layer.
    pub layers: Vec<PullLayer>,
}

/// One layer of the pull.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PullLayer {
    /// Blob digest.
    pub digest: Digest,
    /// Blob size.
    pub compressed_bytes: u64,
    /// True when the node already has it.
    pub shared: bool,
}

/// The pull cost of `image`.
pub fn report(image: &Image, options: &PullOptions) -> PullReport {
    let layers: Vec<PullLayer> = image
        .layers
        .iter()
        .map(|l| PullLayer {
            digest: l.digest.clone(),
            compressed_bytes: l.compressed_bytes,
            shared: options.have.contains(&l.digest),
        })
        .collect();
    let download_bytes = layers
        .iter()
        .filter(|l| !l.shared)
        .map(|l| l.compressed_bytes)
        .sum();
    PullReport {
        download_bytes,
        estimated_seconds: download_bytes as f64 * 8.0
            / options.bandwidth_bits_per_second.max(1) as f64,
        bandwidth_bits_per_second: options.bandwidth_bits_per_second,
        concurrency: options.concurrency,
        layers,
    }
}

/// Pull findings.
pub fn findings(_image: &Image, _report: &PullReport, _options: &PullOptions) -> Vec<Finding> {
    Vec::new()
}

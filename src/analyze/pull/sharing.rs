//! `layerscope pull`'s output: one pull per image, and which layers the
//! images share.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::PullReport;
use crate::analyze::Finding;
use crate::digest::Digest;

/// The schema identifier of `layerscope pull --format json`.
pub const PULL_SCHEMA: &str = "layerscope/pull/v1";

/// What `layerscope pull` reports: one pull per image, and the sharing
/// matrix when there are several.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PullOutput {
    /// Always [`PULL_SCHEMA`].
    pub schema: String,
    /// One entry per image, in the order given.
    pub images: Vec<PullImage>,
    /// Layers shared between the images (two or more images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<Sharing>,
}

impl PullOutput {
    /// The report of `images`, with their sharing matrix when there are
    /// several.
    pub fn new(images: Vec<PullImage>) -> PullOutput {
        let sharing = (images.len() > 1).then(|| {
            let layers: Vec<(String, Vec<(Digest, u64)>)> = images
                .iter()
                .map(|i| {
                    let ls = i
                        .pull
                        .layers
                        .iter()
                        .map(|l| (l.digest.clone(), l.compressed_bytes))
                        .collect();
                    (i.reference.clone(), ls)
                })
                .collect();
            sharing(&layers)
        });
        PullOutput {
            schema: PULL_SCHEMA.to_owned(),
            images,
            sharing,
        }
    }
}

/// The pull of one image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PullImage {
    /// The reference as given.
    pub reference: String,
    /// The manifest digest, when there is one.
    pub manifest_digest: Option<Digest>,
    /// The pull cost.
    pub pull: PullReport,
    /// Pull findings (empty when only the manifest was read).
    pub findings: Vec<Finding>,
}

/// Which layers several images share, by blob digest.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Sharing {
    /// The images, in the order given.
    pub images: Vec<String>,
    /// `shared_bytes[i][j]`: compressed bytes of the layers images `i` and
    /// `j` both have (the diagonal is each image's own size): what pulling
    /// `j` on a node that has `i` does not download.
    pub shared_bytes: Vec<Vec<u64>>,
    /// Compressed bytes of every distinct layer: what a node pulling all
    /// the images downloads.
    pub distinct_bytes: u64,
    /// The sum of the images' sizes: what it would download if nothing
    /// were shared.
    pub sum_bytes: u64,
}

/// The sharing matrix of `images` (reference, layers as digest and size).
pub fn sharing(images: &[(String, Vec<(Digest, u64)>)]) -> Sharing {
    let sets: Vec<HashMap<&Digest, u64>> = images
        .iter()
        .map(|(_, ls)| ls.iter().map(|(d, s)| (d, *s)).collect())
        .collect();
    let shared_bytes = sets
        .iter()
        .map(|a| {
            sets.iter()
                .map(|b| {
                    a.iter()
                        .filter(|(d, _)| b.contains_key(*d))
                        .map(|(_, s)| s)
                        .sum()
                })
                .collect()
        })
        .collect();
    let mut distinct: BTreeSet<(&Digest, u64)> = BTreeSet::new();
    for s in &sets {
        distinct.extend(s.iter().map(|(d, s)| (*d, *s)));
    }
    Sharing {
        images: images.iter().map(|(r, _)| r.clone()).collect(),
        shared_bytes,
        distinct_bytes: distinct.iter().map(|(_, s)| s).sum(),
        sum_bytes: sets.iter().map(|s| s.values().sum::<u64>()).sum(),
    }
}

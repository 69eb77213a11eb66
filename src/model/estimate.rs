//! Compressed-size estimates of sets of files: each file by what it is
//! (see [`crate::scan::content`]), fit to its layer's compressed size.

use super::{Image, Loc};
use crate::scan::content::{ContentClass, Estimator};

impl Image {
    /// How many compressed bytes the files of `layer` cost: per class of
    /// content when the scanner sampled them, else the layer's ratio.
    pub fn estimator(&self, layer: u32) -> Estimator {
        let ratio = self.compression_ratio(layer);
        match self.layers.get(layer as usize) {
            Some(l) => match &l.content {
                Some(c) if c.classes.len() == l.entries.len() => {
                    c.estimator(self.pull_bytes(layer).bytes, ratio)
                }
                _ => Estimator::flat(ratio),
            },
            None => Estimator::flat(ratio),
        }
    }

    /// Estimated compressed bytes of `items`, each an entry and the bytes
    /// of it counted (all of a file's bytes: the file and its tar header;
    /// fewer: that part of its content, e.g. debug sections).
    pub fn estimate_entries(&self, items: impl IntoIterator<Item = (Loc, u64)>) -> u64 {
        let mut estimators: Vec<Option<Estimator>> = vec![None; self.layers.len()];
        let mut total = 0.0;
        for (loc, bytes) in items {
            let Some(slot) = estimators.get_mut(loc.layer as usize) else {
                continue;
            };
            let e = *slot.get_or_insert_with(|| self.estimator(loc.layer));
            let layer = &self.layers[loc.layer as usize];
            let class = layer
                .content
                .as_ref()
                .map_or(ContentClass::Other, |c| c.class(loc.entry));
            let whole = layer
                .entries
                .get(loc.entry as usize)
                .is_some_and(|en| en.size == bytes);
            total += e.bytes(class, bytes, whole);
        }
        total.round() as u64
    }
}

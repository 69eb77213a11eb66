//! Shadowed bytes: files a later layer deleted or replaced
//! (`shadowed-files`) and files rewritten with the same content
//! (`metadata-rewrite`, a chown/chmod/touch).

use std::collections::BTreeMap;

use super::{Finding, FindingKind};
use crate::model::{Image, Loc, ShadowKind};

/// (layer that wrote, layer that shadowed, metadata-only) -> paths and sizes.
type Groups = BTreeMap<(u32, u32, bool), Vec<(Loc, u64)>>;

/// One finding per (layer that wrote, layer that shadowed, how).
pub fn findings(image: &Image) -> Vec<Finding> {
    let mut groups: Groups = BTreeMap::new();
    for s in &image.shadowed {
        let e = image.entry(s.loc);
        if e.size == 0 {
            continue;
        }
        let rewrite = s.how == ShadowKind::MetadataOnly;
        groups
            .entry((s.loc.layer, s.by_layer, rewrite))
            .or_default()
            .push((s.loc, e.size));
    }
    groups
        .into_iter()
        .map(|((writer, by, rewrite), paths)| {
            let bytes: u64 = paths.iter().map(|p| p.1).sum();
            let finding = if rewrite {
                Finding::new(
                    image,
                    FindingKind::MetadataRewrite,
                    &[(writer, bytes)],
                    format!("files written in layer {writer} are written again with the same content in layer {by} (chown, chmod or touch), so both copies ship"),
                    "set ownership and mode where the files are created: `COPY --chown=... --chmod=...`, or chown/chmod in the same RUN",
                )
            } else if writer == by {
                Finding::new(
                    image,
                    FindingKind::ShadowedFiles,
                    &[(writer, bytes)],
                    format!("layer {writer} writes the same paths more than once; only the last copy survives"),
                    "write each file once in the instruction that creates the layer",
                )
            } else {
                Finding::new(
                    image,
                    FindingKind::ShadowedFiles,
                    &[(writer, bytes)],
                    format!("files written in layer {writer} are deleted or replaced in layer {by}, but still ship in layer {writer}"),
                    format!("remove the files in the same RUN that creates them (layer {writer}), or never create them"),
                )
            };
            finding
                .with_layers(&[by])
                .with_file_estimate(image, &paths)
                .with_entry_locs(image, paths)
        })
        .collect()
}

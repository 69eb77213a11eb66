//! Pull advice: the split and reorder estimates, and the pull findings.

use std::collections::HashMap;

use super::{
    ModelLayer, PullLayer, PullOptions, PullReport, ReorderEstimate, SPLIT_MIN_SAVING,
    SPLIT_MIN_SECONDS, SplitEstimate, Timeline, is_compressed_file, is_model_file,
};
use crate::analyze::{Finding, FindingKind, Severity};
use crate::model::Image;
use crate::scan::{EntryKind, EntryPath};

/// The time if the layer that finishes last were split into `concurrency`
/// equal layers, when that saves at least [`SPLIT_MIN_SAVING`].
pub(super) fn split_estimate(
    model: &[ModelLayer],
    timeline: &Timeline,
    options: &PullOptions,
    run: &dyn Fn(&[ModelLayer]) -> Timeline,
) -> Option<SplitEstimate> {
    let parts = options.concurrency.max(1);
    if parts < 2 || timeline.download_seconds <= 0.0 {
        return None;
    }
    let (last, _) = timeline
        .layers
        .iter()
        .enumerate()
        .filter(|(i, _)| model[*i].download_bytes > 0)
        .max_by(|a, b| a.1.end.total_cmp(&b.1.end).then(b.0.cmp(&a.0)))?;
    let big = model[last];
    let mut split = Vec::with_capacity(model.len() + parts as usize);
    split.extend_from_slice(&model[..last]);
    let piece = big.download_bytes / u64::from(parts);
    for p in 0..parts {
        let bytes = if p + 1 == parts {
            big.download_bytes - piece * u64::from(parts - 1)
        } else {
            piece
        };
        split.push(ModelLayer {
            download_bytes: bytes,
            unpack_seconds: big.unpack_seconds / f64::from(parts),
        });
    }
    split.extend_from_slice(&model[last + 1..]);
    let after = run(&split).download_seconds;
    let saved = timeline.download_seconds - after;
    (saved >= timeline.download_seconds * SPLIT_MIN_SAVING && saved >= SPLIT_MIN_SECONDS).then_some(
        SplitEstimate {
            layer: last as u32,
            parts,
            seconds_now: timeline.download_seconds,
            seconds_after: after,
        },
    )
}

/// With `--have`: the lowest changed layer, and the layers above it that
/// were rebuilt with an instruction the `--have` images also ran (so they
/// would have stayed shared had the changed layer come last).
pub(super) fn reorder_estimate(
    layers: &[PullLayer],
    model: &[ModelLayer],
    timeline: &Timeline,
    options: &PullOptions,
    run: &dyn Fn(&[ModelLayer]) -> Timeline,
) -> Option<ReorderEstimate> {
    if options.have.is_empty() {
        return None;
    }
    let first = layers.iter().position(|l| !l.shared)?;
    let rebuilt: Vec<u32> = layers[first + 1..]
        .iter()
        .filter(|l| {
            !l.shared
                && l.created_by
                    .as_ref()
                    .is_some_and(|c| options.have_created_by.contains(c))
        })
        .map(|l| l.index)
        .collect();
    if rebuilt.is_empty() {
        return None;
    }
    let rebuilt_bytes: u64 = rebuilt
        .iter()
        .map(|&i| layers[i as usize].compressed_bytes)
        .sum();
    // Shared layers first, then the other changed layers, the volatile one last.
    let mut after: Vec<ModelLayer> = model
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != first)
        .map(|(i, m)| {
            if rebuilt.contains(&(i as u32)) {
                ModelLayer::default()
            } else {
                *m
            }
        })
        .collect();
    after.push(model[first]);
    let redownload_bytes: u64 = model.iter().map(|m| m.download_bytes).sum();
    Some(ReorderEstimate {
        layer: first as u32,
        created_by: layers[first].created_by.clone(),
        rebuilt_layers: rebuilt,
        redownload_bytes,
        redownload_bytes_after: redownload_bytes - rebuilt_bytes,
        seconds_now: timeline.download_seconds,
        seconds_after: run(&after).download_seconds,
    })
}

/// Share of the final filesystem model weights must reach to be advised
/// out of the image.
const MODEL_SHARE: f64 = 0.25;

/// Model weights below this are left alone.
const MODEL_MIN_BYTES: u64 = 100_000_000;

/// zstd savings below this are not worth a finding.
const ZSTD_MIN_SAVING: u64 = 10_000_000;

/// Layers at least this large whose compressed size is at least
/// [`POOR_RATIO`] of their uncompressed size are poorly compressed.
const POOR_MIN_BYTES: u64 = 50_000_000;

/// See [`POOR_MIN_BYTES`].
const POOR_RATIO: f64 = 0.8;

/// Pull findings: a dominant layer, zstd savings, poorly compressing
/// layers, model weights in the image, and layers out of order.
pub fn findings(image: &Image, report: &PullReport, _options: &PullOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let layer = |i: u32| &report.layers[i as usize];
    if let Some(s) = &report.split {
        let l = layer(s.layer);
        let layer_bytes = l.uncompressed_bytes.unwrap_or(l.compressed_bytes);
        // A layer that mostly rewrites lower files with a new owner or mode
        // (chown -R, chmod -R) should go, not be split.
        let rewritten: u64 = image
            .shadowed
            .iter()
            .filter(|x| x.by_layer == s.layer && x.how == crate::model::ShadowKind::MetadataOnly)
            .map(|x| image.entry(x.loc).size)
            .sum();
        let fix = if rewritten.saturating_mul(2)
            >= crate::model::layer_content_bytes(&image.layers[s.layer as usize])
            && rewritten > 0
        {
            "most of this layer rewrites files of lower layers with a new owner or mode: drop that step (`COPY --chown`, or set ownership in the RUN that creates the files) and the layer disappears from the pull".to_owned()
        } else {
            format!(
                "split it into {} layers of similar size (separate RUN or COPY steps, e.g. one per group of packages) so they download in parallel",
                s.parts
            )
        };
        let mut f = Finding::new(
            image,
            FindingKind::PullDominantLayer,
            &[(s.layer, layer_bytes)],
            format!(
                "layer {} is still downloading, alone on one connection, long after the others finished: it sets the pull time",
                s.layer
            ),
            fix,
        );
        f.compressed_bytes = l.compressed_bytes;
        out.push(f.with_paths(largest_paths(image, s.layer)));
    }
    if let Some(c) = &report.compression
        && c.zstd_saved_bytes >= ZSTD_MIN_SAVING
    {
        let per_layer: Vec<(u32, u64)> = report
            .layers
            .iter()
            .filter(|l| !l.shared)
            .filter_map(|l| {
                l.zstd3_bytes
                    .map(|z| (l.index, l.compressed_bytes.saturating_sub(z)))
            })
            .filter(|&(_, b)| b > 0)
            .collect();
        let mut f = Finding::new(
            image,
            FindingKind::ZstdCompression,
            &per_layer,
            "these layers would download smaller and unpack faster compressed with zstd",
            "push with zstd: `buildah push --compression-format zstd`, or `docker buildx build --output type=image,compression=zstd,force-compression=true,push=true` (containerd 1.5+ and Docker 23+ pull it)",
        );
        f.compressed_bytes = f.bytes;
        f.severity = Severity::for_bytes(f.bytes);
        out.push(f);
    }
    for l in report.layers.iter().filter(|l| !l.shared) {
        let (Some(u), Some(r)) = (l.uncompressed_bytes, l.ratio) else {
            continue;
        };
        if u >= POOR_MIN_BYTES && r >= POOR_RATIO && l.precompressed_bytes > 0 {
            let f = Finding::new(
                image,
                FindingKind::PoorCompression,
                &[(l.index, l.precompressed_bytes)],
                "this layer barely compresses: it is mostly files that are already compressed (wheels, archives) or model weights",
                "do not ship archives in the image (install wheels from a bind mount, unpack archives in the same RUN and delete them); fetch model weights at start-up or mount them",
            );
            out.push(f.with_paths(precompressed_paths(image, l.index)));
        }
    }
    let model_layers: Vec<(u32, u64)> = model_files(image)
        .fold(
            HashMap::new(),
            |mut m: HashMap<u32, u64>, (loc, size, _)| {
                *m.entry(loc).or_default() += size;
                m
            },
        )
        .into_iter()
        .collect();
    let model_bytes: u64 = model_layers.iter().map(|&(_, b)| b).sum();
    let final_bytes = image.final_bytes();
    if model_bytes >= MODEL_MIN_BYTES && model_bytes as f64 >= MODEL_SHARE * final_bytes as f64 {
        let mut per_layer = model_layers;
        per_layer.sort_unstable();
        let f = Finding::new(
            image,
            FindingKind::ModelWeights,
            &per_layer,
            "model weights make up a large part of the image: every node pulls them with every new image",
            "move them out of the image: download them at start-up from object storage or a model hub into a cached volume, or ship them as a separate OCI artifact mounted as a volume",
        );
        out.push(
            f.with_paths(
                model_files(image)
                    .map(|(_, size, path)| (path, size))
                    .collect(),
            ),
        );
    }
    if let Some(r) = &report.reorder {
        let per_layer: Vec<(u32, u64)> = r
            .rebuilt_layers
            .iter()
            .map(|&i| {
                (
                    i,
                    layer(i)
                        .uncompressed_bytes
                        .unwrap_or(layer(i).compressed_bytes),
                )
            })
            .collect();
        let mut f = Finding::new(
            image,
            FindingKind::LayerOrder,
            &per_layer,
            format!(
                "layer {} changes between releases and forces the layers above it to be rebuilt and re-downloaded, though their instructions did not change",
                r.layer
            ),
            format!(
                "move the step that creates layer {} after the large, rarely changing steps (put dependency installs first and the application source last)",
                r.layer
            ),
        );
        f.compressed_bytes = r.redownload_bytes - r.redownload_bytes_after;
        out.push(f);
    }
    out
}

/// The model files of the final filesystem: layer, size, path.
fn model_files(image: &Image) -> impl Iterator<Item = (u32, u64, String)> + '_ {
    image
        .final_entries()
        .filter(|(_, e)| e.kind == EntryKind::File && is_model_file(e.path.file_name(), e.size))
        .map(|(loc, e)| (loc.layer, e.size, e.path.display()))
}

fn largest_paths(image: &Image, layer: u32) -> Vec<(String, u64)> {
    let paths: Vec<(&EntryPath, u64)> = image.layers[layer as usize]
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| (&e.path, e.size))
        .collect();
    crate::analyze::largest(paths)
        .into_iter()
        .map(|(p, size)| (p.display(), size))
        .collect()
}

fn precompressed_paths(image: &Image, layer: u32) -> Vec<(String, u64)> {
    image.layers[layer as usize]
        .entries
        .iter()
        .filter(|e| {
            e.kind == EntryKind::File
                && (is_compressed_file(e.path.file_name())
                    || is_model_file(e.path.file_name(), e.size))
        })
        .map(|e| (e.path.display(), e.size))
        .collect()
}

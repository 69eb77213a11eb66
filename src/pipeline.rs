//! The pipeline: open a source, scan its layers in parallel, stack them
//! into the model and run the analyzers. Every command starts here.

use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

use crate::analyze::{self, Analysis, AnalyzeOptions, ScanStats};
use crate::error::Error;
use crate::model::Image;
use crate::progress::Progress;
use crate::scan::{self, LayerIndex, Verify, cache::LayerCache};
use crate::source::{self, ImageSource, SourceOptions};

/// Everything the pipeline needs besides the reference.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// How to open the image.
    pub source: SourceOptions,
    /// How to scan it.
    pub scan: ScanOptions,
    /// How to analyse it.
    pub analyze: AnalyzeOptions,
}

/// Scanner settings.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Where layer indexes are cached (`None`: no cache).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Draw per-layer progress bars on stderr (only ever true on a terminal).
    pub progress: bool,
    /// What to verify (`--verify`: [`Verify::DiffIds`]). A downloaded
    /// source is always verified at least at [`Verify::BlobDigest`]; cached
    /// indexes are used only when made at this level or above.
    pub verify: Verify,
}

/// Opens, scans and stacks the image at `reference`.
pub fn load(reference: &str, settings: &Settings) -> Result<(Image, ScanStats), Error> {
    let source = source::open(reference, &settings.source)?;
    load_from(source.as_ref(), &settings.scan)
}

/// Scans every layer of an opened source (in parallel) and stacks them.
/// Layers whose index is in the cache are not read at all; the others scan
/// largest blob first, each worker taking the next: the biggest layer starts
/// at once instead of queueing behind small ones (a greedy longest-
/// processing-time schedule; every layer itself runs on two threads).
pub fn load_from(
    source: &dyn ImageSource,
    options: &ScanOptions,
) -> Result<(Image, ScanStats), Error> {
    let info = source.info();
    let verify = effective_verify(source, options.verify);
    let cache = options.cache_dir.as_deref().map(LayerCache::new);
    let progress = Progress::new(options.progress);
    let cached = AtomicU32::new(0);
    let mut order: Vec<usize> = (0..info.layers.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(info.layers[i].compressed_bytes));
    let mut scanned: Vec<(usize, LayerIndex)> = order
        .into_iter()
        // par_bridge hands out items one at a time, in order, to idle workers.
        .par_bridge()
        .map(|i| {
            let layer = &info.layers[i];
            let bar = progress.layer(i, layer.compressed_bytes, layer.digest.short());
            let cached_index = cache.as_ref().and_then(|c| c.get(layer, verify));
            if let Some(index) = cached_index {
                cached.fetch_add(1, Ordering::Relaxed);
                bar.finish("cached");
                return Ok((i, index));
            }
            let index = scan_one(source, i, verify, |stream| bar.wrap(stream))?;
            bar.finish("scanned");
            if let Some(Err(e)) = cache.as_ref().map(|c| c.put(layer, &index)) {
                // The cache never fails an analysis.
                tracing::warn!("{e}");
            }
            Ok((i, index))
        })
        .collect::<Result<_, Error>>()?;
    scanned.sort_by_key(|(i, _)| *i);
    let layers: Vec<LayerIndex> = scanned.into_iter().map(|(_, l)| l).collect();
    let layers_cached = cached.into_inner();
    let stats = ScanStats {
        layers_scanned: layers.len() as u32 - layers_cached,
        layers_cached,
        verify,
    };
    Ok((Image::build(info.clone(), layers), stats))
}

/// The verification a run applies to `source`: what was asked, and at
/// least the blob digest for a download (DESIGN.md "Verification").
pub fn effective_verify(source: &dyn ImageSource, asked: Verify) -> Verify {
    if source.downloaded() {
        asked.max(Verify::BlobDigest)
    } else {
        asked
    }
}

fn scan_one(
    source: &dyn ImageSource,
    index: usize,
    verify: Verify,
    wrap_stream: impl FnOnce(Box<dyn Read + Send + '_>) -> Box<dyn Read + Send + '_>,
) -> Result<LayerIndex, Error> {
    let info = source.info();
    let layer = &info.layers[index];
    let wrap = |source: scan::ScanError| Error::Scan {
        input: info.reference.clone(),
        index,
        digest: layer.digest.to_string(),
        source,
    };
    let stream = wrap_stream(source.open_layer(index)?);
    scan::scan_layer(stream, layer, verify).map_err(wrap)
}

/// Loads and analyses the image at `reference` (from the manifest and
/// config alone when `settings.source.registry.manifest_only` is set).
pub fn analyze(reference: &str, settings: &Settings) -> Result<Analysis, Error> {
    if settings.source.registry.manifest_only {
        return analyze_manifest_only(reference, settings);
    }
    let (image, stats) = load(reference, settings)?;
    Ok(analyze::run(&image, &settings.analyze, stats))
}

/// `--manifest-only`: an analysis from the manifest and config alone, no
/// layer read. Layer rows carry compressed sizes and history; every
/// uncompressed figure is 0 and the report says `manifest_only: true`.
pub fn analyze_manifest_only(reference: &str, settings: &Settings) -> Result<Analysis, Error> {
    let source = source::open(reference, &settings.source)?;
    let info = source.info().clone();
    let layers = info.layers.iter().map(manifest_only_index).collect();
    let image = Image::build(info, layers);
    let mut analysis = analyze::run(&image, &settings.analyze, ScanStats::default());
    analysis.manifest_only = true;
    Ok(analysis)
}

/// An empty index standing for a layer that was not read.
fn manifest_only_index(l: &source::LayerInfo) -> LayerIndex {
    let compression = if l.media_type.contains("zstd") {
        scan::Compression::Zstd
    } else if l.media_type.contains("gzip") || l.media_type.contains("docker.image.rootfs.diff") {
        scan::Compression::Gzip
    } else {
        scan::Compression::None
    };
    LayerIndex {
        digest: l.digest.clone(),
        diff_id: l
            .diff_id
            .clone()
            .unwrap_or_else(|| crate::digest::DiffId(l.digest.clone())),
        verified: Verify::Trust,
        compression,
        compressed_bytes: l.compressed_bytes,
        uncompressed_bytes: 0,
        entries: Vec::new(),
        captured: Vec::new(),
        sample: None,
    }
}

//! The pipeline: open a source, scan its layers in parallel, stack them
//! into the model and run the analyzers. Every command starts here.

use rayon::prelude::*;

use crate::analyze::{self, Analysis, AnalyzeOptions, ScanStats};
use crate::error::Error;
use crate::model::Image;
use crate::scan::{self, LayerIndex};
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
}

/// Opens, scans and stacks the image at `reference`.
pub fn load(reference: &str, settings: &Settings) -> Result<(Image, ScanStats), Error> {
    let source = source::open(reference, &settings.source)?;
    load_from(source.as_ref(), &settings.scan)
}

/// Scans every layer of an opened source (in parallel) and stacks them.
pub fn load_from(
    source: &dyn ImageSource,
    options: &ScanOptions,
) -> Result<(Image, ScanStats), Error> {
    let _ = options;
    let info = source.info();
    // Largest blobs first, each worker taking the next: the biggest layer
    // starts at once instead of queueing behind small ones (greedy longest-
    // processing-time schedule; every layer itself runs on two threads).
    let mut order: Vec<usize> = (0..info.layers.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(info.layers[i].compressed_bytes));
    let mut scanned: Vec<(usize, LayerIndex)> = order
        .into_iter()
        // par_bridge hands out items one at a time, in order, to idle workers.
        .par_bridge()
        .map(|i| scan_one(source, i).map(|l| (i, l)))
        .collect::<Result<_, _>>()?;
    scanned.sort_by_key(|(i, _)| *i);
    let layers: Vec<LayerIndex> = scanned.into_iter().map(|(_, l)| l).collect();
    let stats = ScanStats {
        layers_scanned: layers.len() as u32,
        layers_cached: 0,
    };
    Ok((Image::build(info.clone(), layers), stats))
}

fn scan_one(source: &dyn ImageSource, index: usize) -> Result<LayerIndex, Error> {
    let info = source.info();
    let layer = &info.layers[index];
    let wrap = |source: scan::ScanError| Error::Scan {
        input: info.reference.clone(),
        index,
        digest: layer.digest.to_string(),
        source,
    };
    let stream = source.open_layer(index)?;
    scan::scan_layer(stream, layer).map_err(wrap)
}

/// Loads and analyses the image at `reference`.
pub fn analyze(reference: &str, settings: &Settings) -> Result<Analysis, Error> {
    let (image, stats) = load(reference, settings)?;
    Ok(analyze::run(&image, &settings.analyze, stats))
}

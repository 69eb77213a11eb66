//! The pipeline: open a source, scan its layers in parallel, stack them
//! into the model, run the analyzers and, with a Dockerfile, the advice.
//! Every command starts here: [`Pipeline::new`] from resolved
//! [`Settings`], then [`Pipeline::analyze`] per image (one [`Analyzed`]
//! result: image, analysis, Dockerfile plan), [`Pipeline::check`] for
//! budgets with their base and baseline images.
//!
//! `--manifest-only`, the Dockerfile, `--have` and baselines are handled
//! here, once, for every command.

mod check;

use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

use crate::analyze::pull::{self, PullImage};
use crate::analyze::{self, Analysis, AnalyzeOptions, ScanStats};
use crate::diff::{ImageDiff, Side, diff};
use crate::dockerfile::{Dockerfile, Plan};
use crate::error::Error;
use crate::model::Image;
use crate::progress::Progress;
use crate::scan::{self, LayerIndex, Verify, cache::LayerCache};
use crate::source::{self, ImageInfo, ImageSource, SourceOptions};

pub use check::Checked;

/// Everything the pipeline needs besides the reference.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// How to open the image.
    pub source: SourceOptions,
    /// How to scan it.
    pub scan: ScanOptions,
    /// How to analyse it.
    pub analyze: AnalyzeOptions,
    /// Read only the manifest and config, never a layer: uncompressed
    /// figures, waste and findings are then absent.
    pub manifest_only: bool,
    /// The Dockerfile the image was built from: findings get its lines.
    pub dockerfile: Option<Dockerfile>,
    /// The build context (`--context`; default: the Dockerfile's
    /// directory): its requirement and lock files say what is pinned.
    pub context: Option<std::path::PathBuf>,
    /// Make the Dockerfile plan even without a Dockerfile (advice from the
    /// history alone, for `optimize`).
    pub advise: bool,
    /// Images the node already has (`--have`): their manifests are read
    /// when the pipeline is built.
    pub have: Vec<String>,
}

/// One image through the pipeline.
#[derive(Debug)]
pub struct Analyzed {
    /// The stacked image.
    pub image: Image,
    /// Its analysis (findings carry Dockerfile lines when the Dockerfile
    /// matched).
    pub analysis: Analysis,
    /// The Dockerfile plan: with a Dockerfile, or when advice was asked for.
    pub plan: Option<Plan>,
}

impl Analyzed {
    /// True when a Dockerfile was given but does not match the image's
    /// history (its lines are then unknown and nothing can be rewritten).
    pub fn dockerfile_mismatch(&self, settings: &Settings) -> bool {
        settings.dockerfile.is_some() && self.plan.as_ref().is_some_and(|p| !p.dockerfile_matched)
    }

    /// The old/new side of a comparison.
    pub fn side(&self) -> Side<'_> {
        Side {
            image: &self.image,
            analysis: &self.analysis,
        }
    }
}

/// The pipeline, built once per run from its settings.
#[derive(Debug)]
pub struct Pipeline {
    settings: Settings,
}

impl Pipeline {
    /// Builds the pipeline: reads the `--have` images' manifests (never
    /// their layers) into the pull model.
    pub fn new(mut settings: Settings) -> Result<Pipeline, Error> {
        for have in std::mem::take(&mut settings.have) {
            let opened = source::open(&have, &settings.source)?;
            settings.analyze.pull.add_have(opened.info());
        }
        Ok(Pipeline { settings })
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The manifest-level description of `reference` (no layer read).
    pub fn info(&self, reference: &str) -> Result<ImageInfo, Error> {
        Ok(source::open(reference, &self.settings.source)?
            .info()
            .clone())
    }

    /// Reads, stacks and analyses `reference`; annotates the findings with
    /// the Dockerfile's lines and makes the plan when there is one.
    pub fn analyze(&self, reference: &str) -> Result<Analyzed, Error> {
        self.run(reference, self.settings.dockerfile.as_ref())
    }

    /// [`Pipeline::analyze`] with the Dockerfile given (`None`: findings
    /// stay as the analyzers made them, as a baseline's do).
    fn run(&self, reference: &str, dockerfile: Option<&Dockerfile>) -> Result<Analyzed, Error> {
        let s = &self.settings;
        if s.manifest_only {
            // No findings to tie to lines; `optimize` still advises from
            // the history.
            let (image, analysis) = manifest_only(reference, s)?;
            let plan = s
                .advise
                .then(|| Plan::new(&image, &analysis.findings, None, dockerfile));
            return Ok(Analyzed {
                image,
                analysis,
                plan,
            });
        }
        let (image, stats) = load(reference, s)?;
        let mut analysis = analyze::run(&image, &s.analyze, stats);
        let plan = (dockerfile.is_some() || s.advise).then(|| {
            Plan::new(
                &image,
                &analysis.findings,
                analysis.packages.as_deref(),
                dockerfile,
            )
        });
        if let (Some(plan), Some(df)) = (&plan, dockerfile) {
            analysis.findings = plan.annotate(&analysis.findings);
            let drift = drift_findings(&image, &analysis, plan, df, s.context.as_deref());
            analysis.findings.extend(drift);
            analysis
                .findings
                .sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.kind.cmp(&b.kind)));
        }
        Ok(Analyzed {
            image,
            analysis,
            plan,
        })
    }

    /// The pull cost of `reference` and its pull findings (from the
    /// manifest alone with `--manifest-only`).
    pub fn pull(&self, reference: &str) -> Result<PullImage, Error> {
        let s = &self.settings;
        let options = &s.analyze.pull;
        if s.manifest_only {
            let info = self.info(reference)?;
            let report = pull::cost_from(&info, None, options);
            return Ok(PullImage {
                reference: reference.to_owned(),
                manifest_digest: info.manifest_digest,
                pull: report,
                findings: Vec::new(),
            });
        }
        let (image, _) = load(reference, s)?;
        let report = pull::cost(&image, options);
        let mut findings = pull::findings(&image, &report, options);
        findings.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.kind.cmp(&b.kind)));
        Ok(PullImage {
            reference: reference.to_owned(),
            manifest_digest: image.info.manifest_digest,
            pull: report,
            findings,
        })
    }

    /// Reads and analyses a baseline: no Dockerfile, no plan.
    pub fn analyze_baseline(&self, reference: &str) -> Result<Analyzed, Error> {
        self.run(reference, None)
    }

    /// What changed from `old` to `new`.
    pub fn compare(&self, old: &Analyzed, new: &Analyzed) -> ImageDiff {
        diff(old.side(), new.side(), self.settings.analyze.top)
    }
}

/// The drift findings of `df` against the image (`dockerfile::drift`),
/// with the build context `context` or the Dockerfile's directory.
fn drift_findings(
    image: &Image,
    analysis: &Analysis,
    plan: &Plan,
    df: &Dockerfile,
    context: Option<&std::path::Path>,
) -> Vec<analyze::Finding> {
    let dir = std::path::Path::new(&df.path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    crate::dockerfile::drift::findings(&crate::dockerfile::drift::Context {
        image,
        analysis,
        dockerfile: df,
        mapping: &plan.mapping,
        context: context.unwrap_or(dir),
    })
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
    let mut progress = Progress::new(options.progress);
    progress.total(
        info.layers.len(),
        info.layers.iter().map(|l| l.blob_bytes).sum(),
    );
    let cached = AtomicU32::new(0);
    let mut order: Vec<usize> = (0..info.layers.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(info.layers[i].blob_bytes));
    let mut scanned: Vec<(usize, LayerIndex)> = order
        .into_iter()
        // par_bridge hands out items one at a time, in order, to idle workers.
        .par_bridge()
        .map(|i| {
            let layer = &info.layers[i];
            let bar = progress.layer(i, layer.blob_bytes, layer.digest.short());
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

/// Loads and analyses the image at `reference` (see [`Pipeline::analyze`]).
pub fn analyze(reference: &str, settings: &Settings) -> Result<Analysis, Error> {
    Ok(Pipeline::new(settings.clone())?
        .analyze(reference)?
        .analysis)
}

/// `--manifest-only`: an analysis from the manifest and config alone, no
/// layer read. Layer rows carry compressed sizes and history; every
/// uncompressed figure is 0 and the report says `manifest_only: true`.
fn manifest_only(reference: &str, settings: &Settings) -> Result<(Image, Analysis), Error> {
    let source = source::open(reference, &settings.source)?;
    let info = source.info().clone();
    let layers = info.layers.iter().map(manifest_only_index).collect();
    let image = Image::build(info, layers);
    let mut analysis = analyze::run(&image, &settings.analyze, ScanStats::default());
    analysis.manifest_only = true;
    Ok((image, analysis))
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
        compressed_bytes: l.blob_bytes,
        uncompressed_bytes: 0,
        entries: Vec::new(),
        captured: Vec::new(),
        sample: None,
        content: None,
        warnings: Vec::new(),
        sparse: Vec::new(),
    }
}

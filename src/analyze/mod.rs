//! Analyzers read an [`Image`] and emit [`Finding`]s; [`run`] assembles
//! them with the image's figures into an [`Analysis`], the data every
//! reporter renders (its JSON form is the contract in DESIGN.md).
//!
//! Findings are data: kinds are stable identifiers, messages and fixes
//! carry no numbers (reporters format the bytes).

pub mod bloat;
pub mod duplicates;
pub mod pull;
pub mod python;
pub mod summary;
pub mod system;
pub mod waste;

use serde::{Deserialize, Serialize};

use crate::model::Image;
use crate::scan::EntryPath;

pub use summary::{ImageSummary, LayerSummary, PathSize, ScanStats, Verification};

/// The schema identifier of the JSON report.
pub const SCHEMA: &str = "layerscope/analysis/v1";

/// Everything layerscope has to say about one image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Analysis {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Image-level figures.
    pub image: ImageSummary,
    /// One row per layer, bottom first.
    pub layers: Vec<LayerSummary>,
    /// Findings, largest first.
    pub findings: Vec<Finding>,
    /// Python environments and distributions.
    pub python: python::PythonReport,
    /// The system package manager's packages (dpkg, apk).
    #[serde(default)]
    pub system_packages: system::SystemPackages,
    /// What a pull costs.
    pub pull: pull::PullReport,
    /// The largest files of the final filesystem.
    pub largest_files: Vec<PathSize>,
    /// The largest directories of the final filesystem.
    pub largest_directories: Vec<PathSize>,
    /// How the layers were obtained (scanned now or from the cache).
    pub scan: ScanStats,
    /// What was verified against the manifest and config.
    #[serde(default)]
    pub verification: Verification,
    /// True when only the manifest and config were read (`--manifest-only`):
    /// uncompressed figures are then 0, not measured.
    #[serde(default)]
    pub manifest_only: bool,
}

/// Knobs of the analysis.
#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// How many rows the top lists keep.
    pub top: usize,
    /// Groups smaller than this (e.g. tiny duplicate files) are folded into
    /// one finding rather than listed one by one.
    pub min_group_bytes: u64,
    /// Pull-cost settings.
    pub pull: pull::PullOptions,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            top: 10,
            min_group_bytes: 10_000,
            pull: pull::PullOptions::default(),
        }
    }
}

/// One reason the image is bigger than it needs to be.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// Stable identifier.
    pub kind: FindingKind,
    /// How much it matters.
    pub severity: Severity,
    /// Uncompressed bytes it costs.
    pub bytes: u64,
    /// Estimated compressed bytes it costs (bytes × the holding layer's
    /// compression ratio).
    pub compressed_bytes: u64,
    /// The layers involved, by index.
    pub layers: Vec<u32>,
    /// The paths involved (a sample of the largest when many).
    pub paths: Vec<String>,
    /// How many paths there are in all.
    pub path_count: u64,
    /// What is wrong, in words (no numbers).
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The Dockerfile line responsible, when a Dockerfile was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile_line: Option<u32>,
}

/// How many paths a finding lists.
pub const PATH_SAMPLE: usize = 10;

/// Whether `name` ends with `suffix`, ignoring ASCII case (no allocation:
/// analyzers ask this of every file).
pub(crate) fn ends_with_ci(name: &[u8], suffix: &str) -> bool {
    name.len() >= suffix.len()
        && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// The [`PATH_SAMPLE`] largest items, largest first (equal sizes by path),
/// found without sorting them all.
pub fn largest<P: Ord>(items: Vec<(P, u64)>) -> Vec<(P, u64)> {
    largest_n(items, PATH_SAMPLE)
}

/// The `n` largest items, largest first (equal sizes by path).
pub fn largest_n<P: Ord>(mut items: Vec<(P, u64)>, n: usize) -> Vec<(P, u64)> {
    let order = |a: &(P, u64), b: &(P, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    if n == 0 {
        return Vec::new();
    }
    if items.len() > n {
        items.select_nth_unstable_by(n - 1, order);
        items.truncate(n);
    }
    items.sort_by(order);
    items
}

/// Finding kinds: stable identifiers, never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum FindingKind {
    ShadowedFiles,
    MetadataRewrite,
    DuplicateContent,
    DuplicateDistribution,
    DuplicateNativeLibrary,
    PipCache,
    UvCache,
    CondaPkgs,
    AptLists,
    AptArchives,
    LeftoverWheel,
    LeftoverArchive,
    BytecodeCache,
    PackageTests,
    DebugSymbols,
    StaticLibraries,
    BuildToolchain,
    GpuLibraries,
    CacheOrder,
    PullDominantLayer,
    PoorCompression,
    LayerOrder,
    ZstdCompression,
    ModelWeights,
}

impl FindingKind {
    /// The identifier as it appears in reports and configs.
    pub fn id(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Parses an identifier such as `pip-cache`.
    pub fn from_id(id: &str) -> Option<FindingKind> {
        serde_json::from_value(serde_json::Value::String(id.to_owned())).ok()
    }
}

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth fixing.
    Warning,
    /// Costs a lot.
    Error,
}

impl Severity {
    /// The severity of waste of this many uncompressed bytes.
    pub fn for_bytes(bytes: u64) -> Severity {
        match bytes {
            b if b >= 100_000_000 => Severity::Error,
            b if b >= 10_000_000 => Severity::Warning,
            _ => Severity::Info,
        }
    }
}

impl Finding {
    /// A finding of `kind` over `bytes` held in `layers`; severity from the
    /// bytes, compressed bytes estimated from the layers' ratio.
    pub fn new(
        image: &Image,
        kind: FindingKind,
        per_layer: &[(u32, u64)],
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        let bytes = per_layer.iter().map(|&(_, b)| b).sum();
        let compressed_bytes = per_layer
            .iter()
            .map(|&(l, b)| image.estimate_compressed(l, b))
            .sum();
        let mut layers: Vec<u32> = per_layer.iter().map(|&(l, _)| l).collect();
        layers.sort_unstable();
        layers.dedup();
        Finding {
            kind,
            severity: Severity::for_bytes(bytes),
            bytes,
            compressed_bytes,
            layers,
            paths: Vec::new(),
            path_count: 0,
            message: message.into(),
            fix: fix.into(),
            dockerfile_line: None,
        }
    }

    /// Sets the paths: the largest [`PATH_SAMPLE`] by size, and the count.
    pub fn with_paths(mut self, paths: Vec<(String, u64)>) -> Finding {
        self.path_count = paths.len() as u64;
        self.paths = largest(paths).into_iter().map(|(p, _)| p).collect();
        self
    }

    /// [`Finding::with_paths`] for entry paths: only the sample is formatted,
    /// so a finding over a million files costs no million strings.
    pub fn with_entry_paths(mut self, paths: Vec<(&EntryPath, u64)>) -> Finding {
        self.path_count = paths.len() as u64;
        self.paths = largest(paths)
            .into_iter()
            .map(|(p, _)| p.display())
            .collect();
        self
    }

    /// Adds layers to the finding (e.g. the layer that shadowed the bytes).
    pub fn with_layers(mut self, more: &[u32]) -> Finding {
        self.layers.extend_from_slice(more);
        self.layers.sort_unstable();
        self.layers.dedup();
        self
    }
}

/// Runs every analyzer over `image`.
pub fn run(image: &Image, options: &AnalyzeOptions, scan: ScanStats) -> Analysis {
    // Independent analyzers run side by side: Python and bloat (which needs
    // the Python report) on one side, everything else on the other.
    let ((python, python_findings, system_packages), (mut findings, pull, summary)) = rayon::join(
        || {
            let packages = crate::packages::Database::read(image);
            let python = python::report(image, packages.as_ref());
            let (mut found, claimed) = python::findings(image, &python, packages.as_ref());
            found.extend(bloat::findings(image, &claimed));
            (python, found, system::report(packages.as_ref()))
        },
        || {
            let mut found = waste::findings(image);
            found.extend(duplicates::findings(image, options));
            let pull = pull::cost(image, &options.pull);
            found.extend(pull::findings(image, &pull, &options.pull));
            let summary = (
                summary::image(image),
                summary::layers(image),
                summary::largest_files(image, options.top),
                summary::largest_directories(image, options.top),
            );
            (found, pull, summary)
        },
    );
    findings.extend(python_findings);
    findings.retain(|f| f.bytes > 0 || f.kind == FindingKind::CacheOrder);
    findings.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.kind.cmp(&b.kind)));
    let (image_summary, layers, largest_files, largest_directories) = summary;
    Analysis {
        schema: SCHEMA.to_owned(),
        image: image_summary,
        layers,
        findings,
        python,
        system_packages,
        pull,
        largest_files,
        largest_directories,
        verification: summary::verification(image, &scan),
        scan,
        manifest_only: false,
    }
}

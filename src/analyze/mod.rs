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
pub mod treemap;
pub mod waste;

use serde::{Deserialize, Serialize};

use crate::model::changes::LayerFiles;
use crate::model::{Image, Loc};
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
    /// Per-layer file lists (added, modified, removed), with `--files`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_files: Option<Vec<LayerFiles>>,
    /// The filesystem by directory, for the HTML treemap (not in the JSON).
    #[serde(skip)]
    pub treemap: Option<treemap::MapNode>,
    /// Inputs ignored, cleaned or only partly read (DESIGN.md `warnings[]`).
    #[serde(default)]
    pub warnings: Vec<crate::warning::Warning>,
    /// The package database, read once for the analyzers and the
    /// Dockerfile advice (not in the JSON).
    #[serde(skip)]
    pub packages: Option<std::sync::Arc<crate::packages::Database>>,
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
    /// List every path of every finding (`--all-paths`), not a sample.
    pub all_paths: bool,
    /// Add per-layer file lists to the analysis (`--files`).
    pub layer_files: bool,
    /// Aggregate the filesystem by directory (the HTML report's treemap).
    pub treemap: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            top: 10,
            min_group_bytes: 10_000,
            pull: pull::PullOptions::default(),
            all_paths: false,
            layer_files: false,
            treemap: false,
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
    /// The packages involved, `name==version` (pip) or `name=version`
    /// (apt), for the drift findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// Everything involved, beyond the sample (not in the JSON: `paths`
    /// is, and holds all of them with `--all-paths`).
    #[serde(skip)]
    pub members: Members,
}

/// Everything a finding involves: the explorer's and `--all-paths`' source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Members {
    /// Every entry involved (final or shadowed), when the analyzer knows
    /// them as entries.
    pub locs: Vec<Loc>,
    /// Every path involved, when the analyzer knows them only as strings
    /// (see [`Finding::every_path`]).
    pub paths: Vec<String>,
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
    UnpinnedBase,
    UnpinnedApt,
    UnpinnedPip,
    UnverifiedDownload,
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
            packages: Vec::new(),
            members: Members::default(),
        }
    }

    /// Sets the paths: the largest [`PATH_SAMPLE`] by size, and the count.
    pub fn with_paths(mut self, paths: Vec<(String, u64)>) -> Finding {
        self.path_count = paths.len() as u64;
        self.members.paths = paths.iter().map(|(p, _)| p.clone()).collect();
        self.paths = largest(paths).into_iter().map(|(p, _)| p).collect();
        self
    }

    /// [`Finding::with_entry_paths`] for entries by location, which are
    /// kept (see [`Members::locs`]).
    pub fn with_entry_locs(mut self, image: &Image, items: Vec<(Loc, u64)>) -> Finding {
        let paths = items
            .iter()
            .map(|&(l, size)| (&image.entry(l).path, size))
            .collect();
        self.members.locs = items.into_iter().map(|(l, _)| l).collect();
        self.with_entry_paths(paths)
    }

    /// Every path of the finding, formatted as in [`Finding::paths`]: from
    /// its entries, else from the paths it was given, else its sample.
    pub fn every_path(&self, image: &Image) -> Vec<String> {
        if !self.members.locs.is_empty() {
            let mut out: Vec<String> = self
                .members
                .locs
                .iter()
                .map(|&l| image.entry(l).path.display())
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        } else if !self.members.paths.is_empty() {
            self.members.paths.clone()
        } else {
            self.paths.clone()
        }
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

    /// Sets the compressed bytes from the files themselves, each by what it
    /// is ([`Image::estimate_entries`]), instead of their layers' ratios.
    pub fn with_file_estimate(mut self, image: &Image, items: &[(Loc, u64)]) -> Finding {
        self.compressed_bytes = image.estimate_entries(items.iter().copied());
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
    let ((python, python_findings, packages), (mut findings, pull, summary)) = rayon::join(
        || {
            let packages = crate::packages::Database::read(image);
            let python = python::report(image, packages.as_ref());
            let (mut found, claimed) = python::findings(image, &python, packages.as_ref());
            found.extend(bloat::findings(image, &claimed));
            (python, found, packages)
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
    if options.all_paths {
        for f in &mut findings {
            f.paths = f.every_path(image);
            f.path_count = f.path_count.max(f.paths.len() as u64);
        }
    }
    let treemap = options
        .treemap
        .then(|| treemap::treemap(image, &findings, TREEMAP_DETAIL));
    Analysis {
        schema: SCHEMA.to_owned(),
        image: image_summary,
        layers,
        findings,
        python,
        system_packages: system::report(packages.as_ref()),
        pull,
        largest_files,
        largest_directories,
        verification: summary::verification(image, &scan),
        scan,
        manifest_only: false,
        layer_files: options
            .layer_files
            .then(|| crate::model::changes::layer_files(image)),
        treemap,
        // What the source ignored (platform, foreign layers, index
        // disagreements), then what the layers held (paths, whiteouts, ...).
        warnings: image
            .info
            .warnings
            .iter()
            .map(|m| {
                crate::warning::Warning::new(crate::warning::WarningKind::Other, 1, None, m.clone())
            })
            .chain(image.warnings.iter().cloned())
            .collect(),
        packages: packages.map(std::sync::Arc::new),
    }
}

/// The treemap folds entries smaller than 1/this of the image.
const TREEMAP_DETAIL: u64 = 4_000;

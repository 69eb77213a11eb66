//! The advice's types: one change with its kind, its class (safe or
//! review), the bytes it saves, and whether the rewrite applies it or why
//! not.

use serde::Serialize;

use super::edit::Edit;
use crate::analyze::{Finding, FindingKind, Severity};

/// Whether a change can alter what the image contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Cannot change what the image contains or how it runs: applied by
    /// `optimize --write`.
    Safe,
    /// Can change what ships: applied only with `--apply`.
    Review,
}

/// The kinds of change, stable identifiers like the finding kinds (`--apply
/// KIND` takes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// `apt-get update` joined with the RUNs that install, apt's lists
    /// removed (and `apt-get clean`) at the end of that RUN.
    AptCleanup,
    /// A later RUN's cleanup moved into the RUN that created the files.
    FoldCleanup,
    /// The RUNs that create, use and delete files joined into one.
    MergeRuns,
    /// `pip install --no-cache-dir`.
    PipNoCache,
    /// `uv --no-cache`.
    UvNoCache,
    /// `conda clean -afy` in the installing RUN.
    CondaClean,
    /// `COPY --chown/--chmod` instead of a later `chown -R`/`chmod -R`.
    CopyChown,
    /// The chown/chmod of RUN-created files moved into that RUN.
    ChownInRun,
    /// Wheels and archives deleted in the RUN that installs them.
    DeleteLeftovers,
    /// Dependency manifests copied and installed before the source.
    CacheOrder,
    /// Large stable layers moved above the source copy (advice only).
    LayerOrder,
    /// Files copied in and deleted later: a bind mount (advice only).
    BindMount,
    /// A build stage for the toolchain, a runtime stage without it.
    MultiStage,
    /// `apt-get install --no-install-recommends`.
    NoInstallRecommends,
    /// Test suites of installed packages deleted.
    DeleteTests,
    /// `__pycache__` bytecode deleted.
    DeleteBytecode,
    /// Versions pinned from what the image holds: a constraints file for
    /// pip, `pkg=version` for apt, the base by digest (only when named:
    /// `--apply pin`; `all` is about size).
    Pin,
}

impl ChangeKind {
    /// Every kind.
    pub const ALL: &'static [ChangeKind] = &[
        ChangeKind::AptCleanup,
        ChangeKind::FoldCleanup,
        ChangeKind::MergeRuns,
        ChangeKind::PipNoCache,
        ChangeKind::UvNoCache,
        ChangeKind::CondaClean,
        ChangeKind::CopyChown,
        ChangeKind::ChownInRun,
        ChangeKind::DeleteLeftovers,
        ChangeKind::CacheOrder,
        ChangeKind::LayerOrder,
        ChangeKind::BindMount,
        ChangeKind::MultiStage,
        ChangeKind::NoInstallRecommends,
        ChangeKind::DeleteTests,
        ChangeKind::DeleteBytecode,
        ChangeKind::Pin,
    ];

    /// The identifier (`pip-no-cache`).
    pub fn id(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Parses an identifier.
    pub fn from_id(id: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.iter().copied().find(|k| k.id() == id)
    }

    /// Its class.
    pub fn class(self) -> Class {
        match self {
            ChangeKind::MultiStage
            | ChangeKind::NoInstallRecommends
            | ChangeKind::DeleteTests
            | ChangeKind::DeleteBytecode
            | ChangeKind::Pin => Class::Review,
            _ => Class::Safe,
        }
    }
}

/// Which review changes the rewrite applies (safe ones always).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Selection {
    /// Safe changes only.
    #[default]
    Safe,
    /// Every change.
    All,
    /// Safe changes and these review kinds.
    Kinds(Vec<ChangeKind>),
}

impl Selection {
    /// Parses `--apply all` or `--apply KIND[,KIND...]`.
    pub fn parse(s: &str) -> Result<Selection, String> {
        if s.trim() == "all" {
            return Ok(Selection::All);
        }
        let mut kinds = Vec::new();
        for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match ChangeKind::from_id(w) {
                Some(k) => kinds.push(k),
                None => {
                    let known: Vec<String> = ChangeKind::ALL.iter().map(|k| k.id()).collect();
                    return Err(format!(
                        "--apply: unknown change kind `{}` (known: all, {})",
                        w.escape_debug(),
                        known.join(", ")
                    ));
                }
            }
        }
        Ok(Selection::Kinds(kinds))
    }

    /// Whether `--apply` names `kind` itself (not through `all`).
    pub fn names(&self, kind: ChangeKind) -> bool {
        matches!(self, Selection::Kinds(k) if k.contains(&kind))
    }

    /// Whether the selection applies changes of `kind`.
    pub fn selects(&self, kind: ChangeKind) -> bool {
        match self {
            Selection::Safe => kind.class() == Class::Safe,
            Selection::All => kind != ChangeKind::Pin,
            Selection::Kinds(k) => kind.class() == Class::Safe || k.contains(&kind),
        }
    }
}

/// One suggestion.
#[derive(Clone, Debug, Serialize)]
pub struct Advice {
    /// The finding kind it answers (none for `no-install-recommends`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<FindingKind>,
    /// The kind of change (what `--apply` names).
    pub change_kind: ChangeKind,
    /// Safe or review.
    pub class: Class,
    /// The Dockerfile line to change (when a Dockerfile was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The instruction as written (or the history's `created_by`).
    pub instruction: String,
    /// What is wrong (no numbers).
    pub problem: String,
    /// What to change (no numbers).
    pub change: String,
    /// Uncompressed bytes saved; `None` (null) without an image.
    pub bytes: Option<u64>,
    /// Compressed bytes saved (what every pull stops downloading); `None`
    /// without an image.
    pub compressed_bytes: Option<u64>,
    /// Whether the saving is image size (false for the order advice, whose
    /// figure is what each source change re-pushes and re-pulls).
    pub shrinks_image: bool,
    /// The layers involved.
    pub layers: Vec<u32>,
    /// A sample of the paths involved.
    pub paths: Vec<String>,
    /// For `no-install-recommends`: the recommended packages it drops.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// For `no-install-recommends`: each package's (bytes, compressed
    /// bytes), by name.
    #[serde(skip)]
    pub package_sizes: std::collections::BTreeMap<String, (u64, u64)>,
    /// Whether the rewriter can make this change.
    pub automated: bool,
    /// Whether the rewrite (with the `--apply` selection) makes it.
    pub applied: bool,
    /// Why it is not applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `cache-order`: the bytes each source change rebuilds, re-pushes
    /// and re-pulls, now and after the reordering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_order: Option<CacheOrderFigure>,
    /// The findings it answers (indexes in the findings given).
    #[serde(skip)]
    pub findings: Vec<usize>,
    /// The rewrite.
    #[serde(skip)]
    pub edits: Vec<Edit>,
}

/// The cache-order figure: layers from the first volatile `COPY` to the top.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct CacheOrderFigure {
    /// Compressed bytes of those layers now.
    pub before_compressed_bytes: u64,
    /// Uncompressed bytes of those layers now.
    pub before_bytes: u64,
    /// Compressed bytes after the reordering.
    pub after_compressed_bytes: u64,
    /// Uncompressed bytes after the reordering.
    pub after_bytes: u64,
}

impl Advice {
    /// A new advice of `change_kind` for finding kind `kind`.
    pub fn new(kind: impl Into<Option<FindingKind>>, change_kind: ChangeKind) -> Advice {
        Advice {
            kind: kind.into(),
            change_kind,
            class: change_kind.class(),
            line: None,
            instruction: String::new(),
            problem: String::new(),
            change: String::new(),
            bytes: None,
            compressed_bytes: None,
            shrinks_image: true,
            layers: Vec::new(),
            paths: Vec::new(),
            packages: Vec::new(),
            package_sizes: Default::default(),
            automated: false,
            applied: false,
            reason: None,
            cache_order: None,
            findings: Vec::new(),
            edits: Vec::new(),
        }
    }

    /// The advice for a finding: its bytes, layers and paths.
    pub fn for_finding(f: &Finding, change_kind: ChangeKind) -> Advice {
        let mut a = Advice::new(f.kind, change_kind);
        a.bytes = Some(f.bytes);
        a.compressed_bytes = Some(f.compressed_bytes);
        a.layers = f.layers.clone();
        a.paths = f.paths.clone();
        a
    }

    /// Sets the edits, or the reason there are none.
    pub fn with_edits(mut self, edits: Result<Vec<Edit>, String>) -> Advice {
        match edits {
            Ok(e) if !e.is_empty() => {
                self.automated = true;
                self.edits = e;
            }
            Ok(_) => {}
            Err(reason) => self.reason = Some(reason),
        }
        self
    }

    /// The advice as a report finding (advice that answers no finding kind
    /// has none).
    pub fn to_finding(&self) -> Option<Finding> {
        let bytes = self.bytes?;
        Some(Finding {
            kind: self.kind?,
            severity: Severity::for_bytes(bytes),
            bytes,
            compressed_bytes: self.compressed_bytes.unwrap_or(0),
            layers: self.layers.clone(),
            paths: self.paths.clone(),
            path_count: self.paths.len() as u64,
            message: format!("`{}`: {}", self.instruction, self.problem),
            fix: self.change.clone(),
            dockerfile_line: self.line,
            packages: Vec::new(),
            members: Default::default(),
        })
    }
}

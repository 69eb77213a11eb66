//! Dockerfiles: parsing ([`parse`]), tying the final stage's instructions to
//! the image's layers ([`map`], from the config's history), advice with the
//! bytes each change saves ([`advise`], or [`lint`] without an image), the
//! edits chosen together ([`edit`]) and the rewritten Dockerfile
//! ([`rewrite`]). Without a Dockerfile the history alone drives the advice.
//!
//! Dependencies run one way: `advise` -> `cleanup`/`ownership`/`order`/
//! `review` -> `chain` -> `shell`; `edit` and `rewrite` know the edits and
//! the parse tree, never the advice.

pub mod advice;
pub mod advise;
mod chain;
mod cleanup;
mod convert;
pub mod drift;
pub mod edit;
mod heredoc;
pub mod history;
pub mod lint;
pub mod map;
mod order;
mod ownership;
pub mod parse;
pub mod pin;
mod review;
pub mod rewrite;
pub mod shell;
pub mod stage;
mod words;

use std::path::Path;

pub use advice::{Advice, CacheOrderFigure, ChangeKind, Class, Selection};
pub use edit::Edit;
pub use map::{Mapping, Step, base_layer_count};
pub use parse::{Dockerfile, Instruction, Keyword};

use crate::analyze::Finding;
use crate::model::Image;
use crate::packages::Database;

/// Why a Dockerfile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DockerfileError {
    /// The file cannot be read.
    #[error("cannot read Dockerfile `{path}`: {source}")]
    Read {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A syntax error.
    #[error("`{path}` line {line} column {column}: {message}")]
    Syntax {
        /// The path.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
}

impl Dockerfile {
    /// Reads and parses a Dockerfile.
    pub fn read(path: &Path) -> Result<Dockerfile, DockerfileError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| DockerfileError::Read {
            path: name.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        Dockerfile::parse(&name, text.trim_start_matches('\u{feff}'))
    }
}

/// The advice for one image (or, without one, for the Dockerfile alone).
#[derive(Clone, Debug)]
pub struct Plan {
    /// Instructions tied to layers.
    pub mapping: Mapping,
    /// The advice, largest compressed saving first.
    pub advice: Vec<Advice>,
    /// False when a Dockerfile was given but none of its final stage's
    /// file-writing instructions matches the image's history (another
    /// Dockerfile, or a squashed image): the advice then comes from the
    /// history alone, without lines, and nothing is rewritten.
    pub dockerfile_matched: bool,
    /// When a Dockerfile was given and it does not line up with the image's
    /// history: the first instruction that does not, in one line.
    pub mismatch: Option<String>,
    /// Whether the byte figures were measured on an image (false for
    /// [`Plan::lint`]).
    pub measured: bool,
}

impl Plan {
    /// Maps and advises: `findings` are the analysis's findings for `image`.
    /// A Dockerfile none of whose instructions matches the history is
    /// dropped (advice from the history alone).
    /// `packages` is the image's package database (read once by
    /// `analyze::run`).
    pub fn new(
        image: &Image,
        findings: &[Finding],
        packages: Option<&Database>,
        dockerfile: Option<&Dockerfile>,
    ) -> Plan {
        Plan::build(image, findings, packages, dockerfile, false)
    }

    /// Like [`Plan::new`], but keeps the Dockerfile however little of it
    /// matches the history (`optimize --force`).
    pub fn forced(
        image: &Image,
        findings: &[Finding],
        packages: Option<&Database>,
        dockerfile: Option<&Dockerfile>,
    ) -> Plan {
        Plan::build(image, findings, packages, dockerfile, true)
    }

    fn build(
        image: &Image,
        findings: &[Finding],
        packages: Option<&Database>,
        dockerfile: Option<&Dockerfile>,
        force: bool,
    ) -> Plan {
        let mut mapping = map::map(&image.info, dockerfile);
        let mismatch = dockerfile.and_then(|df| map::mismatch(&image.info, df, &mapping));
        let mut dockerfile = dockerfile;
        let writes = mapping.steps.iter().any(|s| s.keyword.makes_layer());
        let matched = mapping
            .steps
            .iter()
            .any(|s| s.keyword.makes_layer() && s.layer.is_some());
        let dockerfile_matched = dockerfile.is_none() || !writes || matched;
        if !dockerfile_matched && !force {
            mapping = map::map(&image.info, None);
            dockerfile = None;
        }
        let cx = advise::Context {
            image,
            findings,
            mapping: &mapping,
            dockerfile,
            packages,
        };
        let mut advice = advise::advise(&cx);
        if dockerfile.is_some() {
            advice.extend(review::recommends(&cx));
        }
        let mut plan = Plan {
            mapping,
            advice,
            dockerfile_matched,
            mismatch,
            measured: true,
        };
        if let Some(db) = packages {
            plan.with_recommended(image, db);
        }
        plan.select(&Selection::Safe);
        plan
    }

    /// The structural advice for a Dockerfile without an image: bytes
    /// unknown.
    pub fn lint(dockerfile: &Dockerfile) -> Plan {
        let mapping = Mapping {
            steps: Vec::new(),
            base_layers: 0,
            from_line: dockerfile.final_stage().map(|s| s.from_line),
        };
        let mut plan = Plan {
            mapping,
            advice: lint::lint(dockerfile),
            dockerfile_matched: true,
            mismatch: None,
            measured: false,
        };
        plan.select(&Selection::Safe);
        plan
    }

    /// Chooses the changes the rewrite makes: safe ones and the selected
    /// review ones (sets `applied` and `reason`).
    pub fn select(&mut self, selection: &Selection) {
        edit::settle(&mut self.advice, selection);
        edit::discount(&mut self.advice);
    }

    /// The rewritten Dockerfile: the applied advice's edits.
    pub fn rewrite(&self, df: &Dockerfile) -> String {
        let edits: Vec<&Edit> = self
            .advice
            .iter()
            .filter(|a| a.applied)
            .flat_map(|a| a.edits.iter())
            .collect();
        rewrite::rewrite(df, &edits)
    }

    /// The findings with their Dockerfile lines, the advice's fix where it
    /// answers a finding, and the measured advice no finding covers (cache
    /// order, layer order) added, largest first.
    pub fn annotate(&self, findings: &[Finding]) -> Vec<Finding> {
        let mut out: Vec<Finding> = findings
            .iter()
            .map(|f| {
                let mut f = f.clone();
                if f.dockerfile_line.is_none() {
                    f.dockerfile_line = f
                        .layers
                        .first()
                        .and_then(|&l| self.mapping.line_for_layer(l));
                }
                f
            })
            .collect();
        for a in &self.advice {
            if !a.findings.is_empty() {
                for &i in &a.findings {
                    if let Some(f) = out.get_mut(i) {
                        f.dockerfile_line = a.line.or(f.dockerfile_line);
                        f.fix = a.change.clone();
                    }
                }
                continue;
            }
            // An analyzer may have reported the same thing already.
            if findings
                .iter()
                .any(|f| Some(f.kind) == a.kind && f.layers == a.layers)
            {
                continue;
            }
            out.extend(a.to_finding());
        }
        out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.kind.cmp(&b.kind)));
        out
    }

    /// The image-size savings of the applied advice: (uncompressed,
    /// compressed); `None` without an image.
    pub fn promised(&self) -> Option<(u64, u64)> {
        self.measured.then(|| {
            self.advice
                .iter()
                .filter(|a| a.applied && a.shrinks_image)
                .fold((0, 0), |(u, c), a| {
                    (
                        u + a.bytes.unwrap_or(0),
                        c + a.compressed_bytes.unwrap_or(0),
                    )
                })
        })
    }

    /// Gives the `no-install-recommends` advice its bytes: the packages
    /// only a recommendation brought in, by the layer that installed them
    /// (from the image's dpkg database); the advice sorts again by its new
    /// figures.
    fn with_recommended(&mut self, image: &Image, db: &Database) {
        for a in &mut self.advice {
            if a.change_kind != ChangeKind::NoInstallRecommends {
                continue;
            }
            let mine: Vec<&crate::packages::Package> = db
                .recommended()
                .filter(|r| a.layers.contains(&r.layer))
                .collect();
            a.bytes = Some(mine.iter().map(|r| r.bytes).sum());
            a.compressed_bytes = Some(
                image.estimate_entries(
                    mine.iter()
                        .flat_map(|r| r.files.iter())
                        .map(|&l| (l, image.entry(l).size)),
                ),
            );
            a.packages = mine.iter().map(|r| r.name.clone()).collect();
            a.package_sizes = mine
                .iter()
                .map(|r| {
                    let files = r.files.iter().map(|&l| (l, image.entry(l).size));
                    (r.name.clone(), (r.bytes, image.estimate_entries(files)))
                })
                .collect();
            if !mine.is_empty() {
                a.problem = format!(
                    "installs apt's recommended packages as well as the requested ones: {}",
                    a.packages.join(", ")
                );
            }
        }
        self.advice.sort_by(|a, b| {
            b.compressed_bytes
                .cmp(&a.compressed_bytes)
                .then(b.bytes.cmp(&a.bytes))
                .then(a.line.cmp(&b.line))
        });
    }

    /// The cache-order advice, if any.
    pub fn cache_order(&self) -> Option<&Advice> {
        self.advice.iter().find(|a| a.cache_order.is_some())
    }
}

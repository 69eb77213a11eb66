//! Dockerfiles: parsing ([`parse`]), tying the final stage's instructions to
//! the image's layers ([`map`], from the config's history), advice with the
//! bytes each change saves ([`advise`]), and the rewritten Dockerfile
//! ([`rewrite`]). Without a Dockerfile the history alone drives the advice.

pub mod advise;
pub mod history;
pub mod map;
pub mod parse;
pub mod rewrite;

use std::path::Path;

pub use advise::{Advice, CacheOrderFigure, Edit};
pub use map::{Mapping, Step, base_layer_count};
pub use parse::{Dockerfile, Instruction, Keyword};

use crate::analyze::Finding;
use crate::model::Image;

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

/// The advice for one image.
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
}

impl Plan {
    /// Maps and advises: `findings` are the analysis's findings for `image`.
    pub fn new(image: &Image, findings: &[Finding], dockerfile: Option<&Dockerfile>) -> Plan {
        let mut mapping = map::map(&image.info, dockerfile);
        let mut dockerfile = dockerfile;
        let writes = mapping.steps.iter().any(|s| s.keyword.makes_layer());
        let matched = mapping
            .steps
            .iter()
            .any(|s| s.keyword.makes_layer() && s.layer.is_some());
        let dockerfile_matched = dockerfile.is_none() || !writes || matched;
        if !dockerfile_matched {
            mapping = map::map(&image.info, None);
            dockerfile = None;
        }
        let advice = advise::advise(&advise::Context {
            image,
            findings,
            mapping: &mapping,
            dockerfile,
        });
        Plan {
            mapping,
            advice,
            dockerfile_matched,
        }
    }

    /// The findings with their Dockerfile lines, the advice's fix where it
    /// answers a finding, and the advice no finding covers (cache order,
    /// layer order) added, largest first.
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
            match a.finding.and_then(|i| out.get_mut(i)) {
                Some(f) => {
                    f.dockerfile_line = a.line.or(f.dockerfile_line);
                    f.fix = a.change.clone();
                }
                // An analyzer may have reported the same thing already.
                None if findings
                    .iter()
                    .any(|f| f.kind == a.kind && f.layers == a.layers) => {}
                None => out.push(a.to_finding()),
            }
        }
        out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.kind.cmp(&b.kind)));
        out
    }

    /// The automated advice's image-size savings: (uncompressed,
    /// compressed).
    pub fn promised(&self) -> (u64, u64) {
        self.advice
            .iter()
            .filter(|a| a.automated && a.shrinks_image)
            .fold((0, 0), |(u, c), a| (u + a.bytes, c + a.compressed_bytes))
    }

    /// The cache-order advice, if any.
    pub fn cache_order(&self) -> Option<&Advice> {
        self.advice.iter().find(|a| a.cache_order.is_some())
    }
}

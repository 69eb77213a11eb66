//! The budget file: `layerscope.toml` in the working directory, a file given
//! with `--config FILE`, or a `[tool.layerscope]` table in `pyproject.toml`.
//!
//! ```toml
//! max-compressed = "900MB"     # total pull size
//! max-uncompressed = "2.5GB"
//! max-layer = "400MB"          # largest layer, compressed
//! max-layers = 20
//! max-shadowed = "50MB"
//! min-efficiency = 0.95
//! base-layers = 3              # or: base = "python:3.12-slim"
//! baseline = "registry.example.com/team/app:1.3"
//!
//! [findings]                   # bytes per finding kind
//! pip-cache = 0
//!
//! [distributions]              # bytes per Python distribution
//! torch = "900MB"
//!
//! [growth]                     # against the baseline
//! compressed = "50MB"
//! layer = "20MB"
//! distribution = "10MB"
//!
//! [ignore]
//! paths = ["/opt/models/**"]
//! kinds = ["gpu-libraries"]
//! ```
//!
//! Unknown keys, unknown finding kinds and malformed sizes are errors that
//! name the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{Growth, Policy, size};
use crate::analyze::FindingKind;
use crate::analyze::python::normalize_name;

/// Why a budget file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid budget file.
    #[error("`{path}` line {line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A size as written: a TOML integer or a string such as `"900MB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    max_compressed: Option<Spanned<RawSize>>,
    max_uncompressed: Option<Spanned<RawSize>>,
    max_layer: Option<Spanned<RawSize>>,
    max_layers: Option<u64>,
    max_shadowed: Option<Spanned<RawSize>>,
    min_efficiency: Option<Spanned<f64>>,
    base_layers: Option<u32>,
    base: Option<String>,
    baseline: Option<String>,
    #[serde(default)]
    findings: BTreeMap<String, Spanned<RawSize>>,
    #[serde(default)]
    distributions: BTreeMap<String, Spanned<RawSize>>,
    #[serde(default)]
    growth: RawGrowth,
    #[serde(default)]
    ignore: RawIgnore,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrowth {
    compressed: Option<Spanned<RawSize>>,
    layer: Option<Spanned<RawSize>>,
    distribution: Option<Spanned<RawSize>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    #[serde(default)]
    kinds: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
struct Pyproject {
    tool: Option<PyprojectTool>,
}

#[derive(Debug, Deserialize)]
struct PyprojectTool {
    layerscope: Option<Raw>,
}

/// Finds and reads the budget file: `explicit` when given (it must exist),
/// else `layerscope.toml` in `cwd`, else `[tool.layerscope]` in `cwd`'s
/// `pyproject.toml`. `Ok(None)` when there is none.
pub fn discover(
    explicit: Option<&Path>,
    cwd: &Path,
) -> Result<Option<(PathBuf, Policy)>, ConfigError> {
    if let Some(path) = explicit {
        return load(path).map(|p| {
            p.map(|p| (path.to_owned(), p))
                .or_else(|| Some((path.to_owned(), Policy::default())))
        });
    }
    for name in ["layerscope.toml", "pyproject.toml"] {
        let path = cwd.join(name);
        if path.is_file()
            && let Some(policy) = load(&path)?
        {
            return Ok(Some((path, policy)));
        }
    }
    Ok(None)
}

/// Reads one budget file. A file named `pyproject.toml` is read for its
/// `[tool.layerscope]` table (`Ok(None)` when it has none).
pub fn load(path: &Path) -> Result<Option<Policy>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    let pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    parse(&text, path, pyproject)
}

/// Parses budget-file text (`pyproject`: read `[tool.layerscope]` only).
/// `path` only names the file in errors.
pub fn parse(text: &str, path: &Path, pyproject: bool) -> Result<Option<Policy>, ConfigError> {
    let invalid = |span: Option<std::ops::Range<usize>>, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        line: line_of(text, span.map_or(0, |s| s.start)),
        message,
    };
    let raw = if pyproject {
        let p: Pyproject = toml::from_str(text).map_err(|e| invalid(e.span(), describe(&e)))?;
        match p.tool.and_then(|t| t.layerscope) {
            Some(raw) => raw,
            None => return Ok(None),
        }
    } else {
        toml::from_str::<Raw>(text).map_err(|e| invalid(e.span(), describe(&e)))?
    };
    let size = |v: Option<Spanned<RawSize>>, key: &str| -> Result<Option<u64>, ConfigError> {
        v.map(|v| sized(&v).map_err(|m| invalid(Some(v.span()), format!("`{key}`: {m}"))))
            .transpose()
    };
    let mut findings = BTreeMap::new();
    for (kind, value) in raw.findings {
        let k = FindingKind::from_id(&kind).ok_or_else(|| {
            invalid(
                Some(value.span()),
                format!(
                    "unknown finding kind `{kind}` in [findings]; finding kinds: {}",
                    super::finding_kinds().join(", ")
                ),
            )
        })?;
        let bytes = sized(&value)
            .map_err(|m| invalid(Some(value.span()), format!("`findings.{kind}`: {m}")))?;
        findings.insert(k, bytes);
    }
    let mut distributions = BTreeMap::new();
    for (name, value) in raw.distributions {
        let bytes = sized(&value)
            .map_err(|m| invalid(Some(value.span()), format!("`distributions.{name}`: {m}")))?;
        distributions.insert(normalize_name(name.trim()), bytes);
    }
    let mut ignore_kinds = Vec::new();
    for kind in raw.ignore.kinds {
        let k = FindingKind::from_id(kind.get_ref()).ok_or_else(|| {
            invalid(
                Some(kind.span()),
                format!(
                    "unknown finding kind `{}` in `ignore.kinds`; finding kinds: {}",
                    kind.get_ref(),
                    super::finding_kinds().join(", ")
                ),
            )
        })?;
        ignore_kinds.push(k);
    }
    let mut ignore_paths = Vec::new();
    for glob in raw.ignore.paths {
        super::budgets::glob(glob.get_ref())
            .map_err(|m| invalid(Some(glob.span()), format!("`ignore.paths`: {m}")))?;
        ignore_paths.push(glob.into_inner());
    }
    let min_efficiency = match raw.min_efficiency {
        Some(v) if !(0.0..=1.0).contains(v.get_ref()) => {
            return Err(invalid(
                Some(v.span()),
                "`min-efficiency` must be between 0 and 1 (0.95 is 95%)".into(),
            ));
        }
        v => v.map(Spanned::into_inner),
    };
    Ok(Some(Policy {
        max_compressed: size(raw.max_compressed, "max-compressed")?,
        max_uncompressed: size(raw.max_uncompressed, "max-uncompressed")?,
        max_layer: size(raw.max_layer, "max-layer")?,
        max_layers: raw.max_layers,
        max_shadowed: size(raw.max_shadowed, "max-shadowed")?,
        min_efficiency,
        findings,
        distributions,
        growth: Growth {
            compressed: size(raw.growth.compressed, "growth.compressed")?,
            layer: size(raw.growth.layer, "growth.layer")?,
            distribution: size(raw.growth.distribution, "growth.distribution")?,
        },
        baseline: raw.baseline,
        ignore_paths,
        ignore_kinds,
        base_layers: raw.base_layers,
        base_image: raw.base,
    }))
}

fn sized(v: &Spanned<RawSize>) -> Result<u64, String> {
    match v.get_ref() {
        RawSize::Bytes(b) => Ok(*b),
        RawSize::Text(t) => size::parse(t).map_err(|e| e.to_string()),
    }
}

/// The toml error's message on one line, with "field" said as "key".
fn describe(e: &toml::de::Error) -> String {
    let m = e.message().trim().replace('\n', " ");
    match m.strip_prefix("unknown field") {
        Some(rest) => format!("unknown key{rest}"),
        None => m,
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Policy {
        match parse(text, Path::new("layerscope.toml"), false) {
            Ok(Some(p)) => p,
            other => panic!("{other:?}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match parse(text, Path::new("layerscope.toml"), false) {
            Err(e) => e.to_string(),
            Ok(p) => panic!("parsed: {p:?}"),
        }
    }

    #[test]
    fn reads_every_key() {
        let p = parse_ok(
            "max-compressed = \"900MB\"\nmax-uncompressed = 2000\nmax-layer = \"1.5kB\"\nmax-layers = 7\n\
             max-shadowed = \"1KiB\"\nmin-efficiency = 0.9\nbase-layers = 2\nbaseline = \"old.tar\"\n\
             [findings]\npip-cache = 0\n[distributions]\nTorch_Vision = \"1MB\"\n\
             [growth]\ncompressed = 10\nlayer = \"1kB\"\ndistribution = 3\n[ignore]\npaths = [\"/opt/**\"]\nkinds = [\"gpu-libraries\"]\n",
        );
        assert_eq!(p.max_compressed, Some(900_000_000));
        assert_eq!(p.max_uncompressed, Some(2000));
        assert_eq!(p.max_layer, Some(1500));
        assert_eq!(p.max_layers, Some(7));
        assert_eq!(p.max_shadowed, Some(1024));
        assert_eq!(p.min_efficiency, Some(0.9));
        assert_eq!(p.base_layers, Some(2));
        assert_eq!(p.baseline.as_deref(), Some("old.tar"));
        assert_eq!(p.findings.get(&FindingKind::PipCache), Some(&0));
        assert_eq!(p.distributions.get("torch-vision"), Some(&1_000_000));
        assert_eq!(
            p.growth,
            Growth {
                compressed: Some(10),
                layer: Some(1000),
                distribution: Some(3)
            }
        );
        assert_eq!(p.ignore_paths, vec!["/opt/**".to_owned()]);
        assert_eq!(p.ignore_kinds, vec![FindingKind::GpuLibraries]);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = parse_err("max-compressed = \"1GB\"\n\nmax-sise = 3\n");
        assert!(
            e.starts_with("`layerscope.toml` line 3: unknown key `max-sise`"),
            "{e}"
        );
        let e = parse_err("[growth]\ncompressed = 1\ntotal = 2\n");
        assert!(e.contains("line 3: unknown key `total`"), "{e}");
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let e = parse_err("max-layers = 3\nmax-layer = \"12 parsecs\"\n");
        assert!(
            e.contains("line 2: `max-layer`: `12 parsecs` is not a size"),
            "{e}"
        );
        let e = parse_err("[findings]\n\npip-cash = 0\n");
        assert!(e.contains("line 3: unknown finding kind `pip-cash`"), "{e}");
        let e = parse_err("min-efficiency = 95\n");
        assert!(
            e.contains("line 1: `min-efficiency` must be between 0 and 1"),
            "{e}"
        );
        let e = parse_err("[ignore]\nkinds = [\"nope\"]\n");
        assert!(e.contains("line 2: unknown finding kind `nope`"), "{e}");
    }

    #[test]
    fn pyproject_table() {
        let text = "[project]\nname = \"x\"\n[tool.black]\nline-length = 100\n[tool.layerscope]\nmax-layers = 4\nmax-thing = 1\n";
        match parse(text, Path::new("pyproject.toml"), true) {
            Err(e) => assert!(
                e.to_string().contains("line 7: unknown key `max-thing`"),
                "{e}"
            ),
            Ok(p) => panic!("{p:?}"),
        }
        let ok = parse(
            "[tool.layerscope]\nmax-layers = 4\n",
            Path::new("pyproject.toml"),
            true,
        );
        assert_eq!(ok.ok().flatten().and_then(|p| p.max_layers), Some(4));
        let none = parse(
            "[project]\nname = \"x\"\n",
            Path::new("pyproject.toml"),
            true,
        );
        assert!(matches!(none, Ok(None)));
    }
}

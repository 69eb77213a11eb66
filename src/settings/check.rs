//! `check`'s budgets: the budget file (`--config FILE`, else
//! `layerscope.toml`, else `[tool.layerscope]` in `pyproject.toml`) with
//! the budget flags laid over it.

use std::path::{Component, Path, PathBuf};

use crate::analyze::FindingKind;
use crate::analyze::python::normalize_name;
use crate::cli::CheckArgs;
use crate::error::Error;
use crate::policy::{self, Growth, Policy, config, size};

use super::Env;

/// The merged policy: the file's budgets, then the flags'.
pub fn policy(args: &CheckArgs, env: &Env) -> Result<Policy, Error> {
    let flags = flag_policy(args)?;
    Ok(match config::discover(args.config.as_deref(), &env.cwd)? {
        Some((_, from_file)) => from_file.merge(flags),
        None => flags,
    })
}

fn flag_size(flag: &'static str, value: &Option<String>) -> Result<Option<u64>, Error> {
    value
        .as_deref()
        .map(|v| size::parse(v).map_err(|e| Error::flag(flag, v, e)))
        .transpose()
}

fn flag_pair<'a>(flag: &'static str, spec: &'a str) -> Result<(&'a str, u64), Error> {
    let (key, value) = spec.split_once('=').ok_or_else(|| Error::Flag {
        flag,
        value: spec.to_owned(),
        reason: format!("`{spec}`: expected NAME=SIZE"),
        hint: Some(format!("e.g. `--{flag} pip-cache=0`")),
    })?;
    let bytes =
        size::parse(value).map_err(|e| Error::flag(flag, spec, format!("`{spec}`: {e}")))?;
    Ok((key.trim(), bytes))
}

fn kind(flag: &'static str, id: &str) -> Result<FindingKind, Error> {
    FindingKind::from_id(id.trim()).ok_or_else(|| Error::Flag {
        flag,
        value: id.to_owned(),
        reason: format!("unknown finding kind `{id}`"),
        hint: Some(format!(
            "finding kinds: {}",
            policy::finding_kinds().join(", ")
        )),
    })
}

fn ratio(value: &str) -> Result<f64, Error> {
    let bad = || {
        Error::flag(
            "min-efficiency",
            value,
            format!("`{value}`: expected a ratio such as 0.95 or 95%"),
        )
    };
    let r = match value.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => value.trim().parse::<f64>().map_err(|_| bad())?,
    };
    if !(0.0..=1.0).contains(&r) {
        return Err(bad());
    }
    Ok(r)
}

/// The budgets the flags set.
pub fn flag_policy(args: &CheckArgs) -> Result<Policy, Error> {
    let mut p = Policy {
        max_compressed: flag_size("max-compressed", &args.max_compressed)?,
        max_uncompressed: flag_size("max-uncompressed", &args.max_uncompressed)?,
        max_layer: flag_size("max-layer", &args.max_layer)?,
        max_layers: args.max_layers,
        max_shadowed: flag_size("max-shadowed", &args.max_shadowed)?,
        min_efficiency: args.min_efficiency.as_deref().map(ratio).transpose()?,
        growth: Growth {
            compressed: flag_size("max-growth", &args.max_growth)?,
            layer: flag_size("max-layer-growth", &args.max_layer_growth)?,
            distribution: flag_size("max-distribution-growth", &args.max_distribution_growth)?,
        },
        baseline: args.baseline.clone(),
        ignore_paths: args.ignore.clone(),
        base_layers: args.base_layers,
        base_image: args.base.clone(),
        ..Policy::default()
    };
    for spec in &args.max_finding {
        let (k, bytes) = flag_pair("max-finding", spec)?;
        p.findings.insert(kind("max-finding", k)?, bytes);
    }
    for spec in &args.max_distribution {
        let (name, bytes) = flag_pair("max-distribution", spec)?;
        p.distributions.insert(normalize_name(name), bytes);
    }
    for k in &args.ignore_kind {
        p.ignore_kinds.push(kind("ignore-kind", k)?);
    }
    for g in &p.ignore_paths {
        policy::budgets::glob(g).map_err(|e| Error::flag("ignore", g, e))?;
    }
    Ok(p)
}

/// `path` relative to the root of the git repository holding it (the
/// nearest ancestor with `.git`), for SARIF and annotations; relative to
/// `cwd` when there is no repository; as given when neither applies.
pub fn repo_relative(path: &Path, cwd: &Path) -> String {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        cwd.join(path)
    };
    let absolute = clean(&absolute);
    let root = absolute
        .ancestors()
        .skip(1)
        .find(|d| d.join(".git").exists())
        .map(Path::to_owned)
        .unwrap_or_else(|| clean(cwd));
    match absolute.strip_prefix(&root) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => path.to_string_lossy().trim_start_matches("./").to_owned(),
    }
}

/// Drops `.` and folds `..` without touching the disk.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_paths_are_relative_to_the_repository() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(repo.join("docker/app")).unwrap_or_else(|e| panic!("{e}"));
        let cwd = repo.join("docker");
        assert_eq!(
            repo_relative(Path::new("./app/Dockerfile"), &cwd),
            "docker/app/Dockerfile"
        );
        assert_eq!(
            repo_relative(&repo.join("docker/../Dockerfile"), &cwd),
            "Dockerfile"
        );
        // No repository: relative to the working directory.
        let plain = dir.path().join("plain");
        assert_eq!(
            repo_relative(Path::new("./Dockerfile"), &plain),
            "Dockerfile"
        );
    }
}

//! `duplicate-distribution`: one distribution installed more than once
//! where one interpreter sees every copy, or in several environments.

use std::collections::BTreeMap;

use super::{Distribution, Environment, PythonReport, normalize_name};
use crate::analyze::{Finding, FindingKind};
use crate::model::{Image, LocSet};

/// Where an environment comes on the system interpreter's `sys.path`
/// (Debian/Ubuntu layout): the user site first, then `/usr/local`, then
/// the distro's; `None` for environments of other interpreters (venvs,
/// conda).
fn sys_path_rank(env: &str) -> Option<u8> {
    let p = env.trim_start_matches('/');
    if p.contains("/.local/lib/python") {
        Some(0)
    } else if p.starts_with("usr/local/lib/python") {
        Some(1)
    } else if p.starts_with("usr/lib/python") {
        Some(2)
    } else {
        None
    }
}

/// One finding per distribution name installed more than once; the losing
/// copies' files go into `taken`.
pub(super) fn duplicate_distributions(
    image: &Image,
    report: &PythonReport,
    taken: &mut LocSet,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut by_name: BTreeMap<String, Vec<(&Environment, &Distribution)>> = BTreeMap::new();
    for env in &report.environments {
        for d in &env.distributions {
            by_name
                .entry(normalize_name(&d.name))
                .or_default()
                .push((env, d));
        }
    }
    for copies in by_name.values().filter(|c| c.len() > 1) {
        let mut copies = copies.clone();
        copies.sort_by(|a, b| {
            let ra = sys_path_rank(&a.0.path).unwrap_or(u8::MAX);
            let rb = sys_path_rank(&b.0.path).unwrap_or(u8::MAX);
            ra.cmp(&rb)
                .then_with(|| b.1.layer.cmp(&a.1.layer))
                .then_with(|| a.1.metadata.cmp(&b.1.metadata))
        });
        let (win_env, winner) = copies[0];
        let one_interpreter = copies.iter().all(|(e, _)| sys_path_rank(&e.path).is_some());
        let mut per_layer: Vec<(u32, u64)> = Vec::new();
        let mut paths = vec![(winner.metadata.clone(), u64::MAX)];
        for (_, loser) in &copies[1..] {
            for &l in &loser.locs {
                if taken.insert(l) {
                    per_layer.push((l.layer, image.entry(l).size));
                }
            }
            paths.push((loser.metadata.clone(), loser.bytes));
        }
        let others: Vec<String> = copies[1..]
            .iter()
            .map(|(e, d)| format!("{} {} in `{}`", d.name, d.version, e.path))
            .collect();
        let message = if one_interpreter {
            format!(
                "{} is installed {} times where one interpreter sees every copy: {} {} in `{}` comes first on sys.path and wins; {} only cost bytes",
                winner.name,
                copies.len(),
                winner.name,
                winner.version,
                win_env.path,
                others.join(", ")
            )
        } else {
            format!(
                "{} is installed in {} environments of one image: {} {} in `{}` and {}",
                winner.name,
                copies.len(),
                winner.name,
                winner.version,
                win_env.path,
                others.join(", ")
            )
        };
        let apt_loser = copies[1..]
            .iter()
            .any(|(e, d)| e.path.starts_with("/usr/lib/python3") && d.files_from != "RECORD");
        let fix = if apt_loser {
            format!(
                "install {} once: drop the distro package (`python3-{}` from `apt-get install`, or packages that pull it in) and keep pip's copy, or let pip use the distro's",
                winner.name,
                normalize_name(&winner.name)
            )
        } else {
            format!(
                "install {} once: remove the other copies (uninstall them in the RUN that installed them, or do not install them there)",
                winner.name
            )
        };
        findings.push(
            Finding::new(
                image,
                FindingKind::DuplicateDistribution,
                &per_layer,
                message,
                fix,
            )
            .with_layers(&[winner.layer])
            .with_paths(paths),
        );
    }

    findings
}

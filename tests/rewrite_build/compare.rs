//! The comparisons of `rewrite_build`: an original image against its
//! rebuilt rewrite (contents, runtime settings, promises).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Built, Outcome, Variant, applied, mb};
use crate::support::realbuild::Entry;

/// Tolerance of a promise: 10 % of what was obtained, and a little slack
/// for figures too small for a percentage to mean anything (below 64 KiB a
/// compressed figure is mostly tar and gzip framing).
const TOLERANCE: f64 = 0.10;
const SLACK_BYTES: i64 = 64 * 1024;

/// Environment variables a rewrite may add to the config: they only turn
/// off a package manager's cache (the issue's `ENV PIP_NO_CACHE_DIR=1`).
const CACHE_ENV: &[&str] = &["PIP_NO_CACHE_DIR=", "UV_NO_CACHE="];

/// The runtime settings compared.
const SETTINGS: &[&str] = &[
    "User",
    "WorkingDir",
    "Env",
    "Cmd",
    "Entrypoint",
    "ExposedPorts",
];

/// Whether a promise is within the tolerance of what was obtained.
fn within(promised: i64, obtained: i64) -> bool {
    let slack = ((obtained.abs() as f64 * TOLERANCE) as i64).max(SLACK_BYTES);
    (promised - obtained).abs() <= slack
}

/// Whether `path` is a file an applied review change deletes on purpose:
/// bytecode (`delete-bytecode`) or a package's test suite (`delete-tests`)
/// inside a Python environment.
fn deleted_on_purpose(path: &str, report: &Value, variant: Variant) -> bool {
    let applied_kind = |k: &str| {
        report["advice"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["change_kind"] == k && applied(a, variant))
    };
    let Some(at) = path.find("-packages/") else {
        return false;
    };
    let comps: Vec<&str> = path[at..].split('/').skip(1).collect();
    (applied_kind("delete-bytecode") && comps.contains(&"__pycache__"))
        || (applied_kind("delete-tests")
            && comps.len() > 1
            && comps[1..].iter().any(|c| *c == "tests" || *c == "test"))
}

pub(super) fn compare_contents(
    orig: &Built,
    new: &Built,
    report: &Value,
    variant: Variant,
    out: &mut Outcome,
) {
    let (a, b) = (orig.distributions(), new.distributions());
    for d in a.difference(&b) {
        out.problem(
            variant,
            format!("lost distribution {} {} in {}", d.1, d.2, d.0),
        );
    }
    for d in b.difference(&a) {
        out.problem(
            variant,
            format!("gained distribution {} {} in {}", d.1, d.2, d.0),
        );
    }
    let mut diffs = Vec::new();
    let mut deleted = 0;
    for (path, e) in &orig.files {
        match new.files.get(path) {
            None if deleted_on_purpose(path, report, variant) => deleted += 1,
            None => diffs.push(format!("missing {path}")),
            Some(n) if !same(path, e, n) => diffs.push(format!(
                "changed {path}: {} {:o} {}:{} -> {} {:o} {}:{}{}",
                e.kind,
                e.mode,
                e.uid,
                e.gid,
                n.kind,
                n.mode,
                n.uid,
                n.gid,
                if n.content == e.content {
                    ""
                } else {
                    ", content differs"
                }
            )),
            Some(_) => {}
        }
    }
    for path in new.files.keys().filter(|p| !orig.files.contains_key(*p)) {
        diffs.push(format!("extra {path}"));
    }
    if deleted > 0 {
        out.note(format!(
            "{}: {deleted} bytecode and test file(s) deleted by the applied review changes",
            variant.name()
        ));
    }
    if !diffs.is_empty() {
        let n = diffs.len();
        diffs.truncate(8);
        out.problem(
            variant,
            format!(
                "{n} application file(s) differ: {}{}",
                diffs.join("; "),
                if n > 8 { "; ..." } else { "" }
            ),
        );
    }
}

/// Bytecode that pip compiled at install time holds the source's mtime (the
/// time of that build), so two builds never agree on its bytes: only its
/// presence, mode and owner are compared.
fn same(path: &str, a: &Entry, b: &Entry) -> bool {
    if path.contains("/__pycache__/") && path.ends_with(".pyc") {
        (a.kind, a.mode, a.uid, a.gid) == (b.kind, b.mode, b.uid, b.gid)
    } else {
        a == b
    }
}

pub(super) fn compare_config(orig: &Built, new: &Built, variant: Variant, out: &mut Outcome) {
    for key in SETTINGS {
        let (mut a, mut b) = (orig.config[key].clone(), new.config[key].clone());
        if *key == "Env" && without_cache_env(&mut b) > without_cache_env(&mut a) {
            out.note(format!("{}: adds a cache-off ENV", variant.name()));
        }
        if a != b {
            out.problem(
                variant,
                format!(
                    "runtime setting {key} changed: {} -> {}",
                    orig.config[key], new.config[key]
                ),
            );
        }
    }
}

/// Drops the cache-off variables from an `Env` list; how many there were.
fn without_cache_env(env: &mut Value) -> usize {
    let Some(list) = env.as_array_mut() else {
        return 0;
    };
    let before = list.len();
    list.retain(|e| {
        let s = e.as_str().unwrap_or("");
        !CACHE_ENV.iter().any(|c| s.starts_with(c))
    });
    before - list.len()
}

pub(super) fn compare_promises(
    orig: &Built,
    new: &Built,
    report: &Value,
    variant: Variant,
    out: &mut Outcome,
) {
    let advice: Vec<&Value> = report["advice"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| applied(a, variant))
        .collect();
    let shrinking: Vec<&&Value> = advice
        .iter()
        .filter(|a| a["shrinks_image"].as_bool().unwrap_or(true))
        .collect();
    let sum = |field: &str| -> i64 {
        shrinking
            .iter()
            .map(|a| a[field].as_i64().unwrap_or(0))
            .sum()
    };
    let (promised_c, promised_u) = (sum("compressed_bytes"), sum("bytes"));
    let (got_c, got_u) = (
        orig.compressed() - new.compressed(),
        orig.content() - new.content(),
    );
    let kinds: Vec<String> = advice
        .iter()
        .map(|a| {
            a["change_kind"]
                .as_str()
                .or(a["kind"].as_str())
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    out.note(format!(
        "{}: applied [{}]; promised {} compressed / {} content, obtained {} / {}",
        variant.name(),
        kinds.join(", "),
        mb(promised_c),
        mb(promised_u),
        mb(got_c),
        mb(got_u)
    ));
    if shrinking.is_empty() {
        if new.compressed() > orig.compressed() + orig.compressed() / 100 {
            out.problem(variant, format!("image grew by {}", mb(-got_c)));
        }
    } else if got_c <= 0 {
        out.problem(
            variant,
            format!("image not smaller: {} compressed", mb(-got_c)),
        );
    }
    if !within(promised_c, got_c) {
        out.problem(
            variant,
            format!(
                "promised {} compressed, obtained {}",
                mb(promised_c),
                mb(got_c)
            ),
        );
    }
    if !within(promised_u, got_u) {
        out.problem(
            variant,
            format!(
                "promised {} content bytes, obtained {}",
                mb(promised_u),
                mb(got_u)
            ),
        );
    }
    per_kind(orig, new, &shrinking, variant, out);
    cache_order(new, &advice, variant, out);
}

/// Each applied change, by the finding kind it answers: the bytes it
/// promised against how much the findings of that kind shrank.
fn per_kind(orig: &Built, new: &Built, advice: &[&&Value], variant: Variant, out: &mut Outcome) {
    let mut promised: BTreeMap<String, i64> = BTreeMap::new();
    // A change that answers no finding (`no-install-recommends`) is only
    // in the totals. The multi-stage split removes more than the finding
    // it answers: its bytes are every package the runtime stage leaves
    // out (git, curl, perl and the rest beside the compilers), while the
    // `build-toolchain` finding counts the toolchain packages alone. Its
    // bytes are held in the totals; per kind, it promises that the
    // findings of its kind go.
    for a in advice {
        if let Some(kind) = a["kind"].as_str() {
            let p = if a["change_kind"] == "multi-stage" {
                orig.finding_bytes(kind)
            } else {
                a["bytes"].as_i64().unwrap_or(0)
            };
            *promised.entry(kind.to_owned()).or_default() += p;
        }
    }
    // One-sided: a finding counts every layer's copy of its files (the pip
    // layer's test suites and the `chown -R` copy of them), and the copy
    // goes with another change (`chown-in-run`, promised under
    // `metadata-rewrite`), so a kind may shrink by more than its own
    // changes promise. The totals, held both ways, catch a double promise.
    for (kind, p) in promised {
        let got = orig.finding_bytes(&kind) - new.finding_bytes(&kind);
        if got < p && !within(p, got) {
            out.problem(
                variant,
                format!(
                    "{kind}: promised {}, the findings of that kind shrank by {}",
                    mb(p),
                    mb(got)
                ),
            );
        }
    }
}

/// The cache-order promise: after the rewrite, each source change re-pushes
/// the layers from the source COPY up, which must match the figure given.
fn cache_order(new: &Built, advice: &[&Value], variant: Variant, out: &mut Outcome) {
    let Some(figure) = advice
        .iter()
        .find(|a| a["kind"] == "cache-order")
        .map(|a| &a["cache_order"])
    else {
        return;
    };
    let layers = new.report["layers"].as_array().cloned().unwrap_or_default();
    let Some(first) = layers.iter().position(|l| {
        l["created_by"]
            .as_str()
            .is_some_and(|c| c.contains("COPY dir:"))
    }) else {
        out.problem(
            variant,
            "cache-order applied, but no source COPY layer found".into(),
        );
        return;
    };
    let after: i64 = layers[first..]
        .iter()
        .map(|l| l["compressed_bytes"].as_i64().unwrap_or(0))
        .sum();
    let promised = figure["after_compressed_bytes"].as_i64().unwrap_or(0);
    out.note(format!(
        "{}: a source change now re-pushes {} (promised {})",
        variant.name(),
        mb(after),
        mb(promised)
    ));
    // One-sided: the other changes (merged RUNs, a chown folded away) can
    // only shrink the layers above the source, so re-pushing less than the
    // figure is no broken promise.
    if after > promised && !within(promised, after) {
        out.problem(
            variant,
            format!(
                "cache-order: promised {} re-pushed per source change, the rebuild re-pushes {}",
                mb(promised),
                mb(after)
            ),
        );
    }
}

//! Rewrites that build (issue 12): every Dockerfile of `testdata/rewrite/`
//! is built for real with `buildah bud --layers` on a Debian bookworm base,
//! `layerscope optimize` rewrites it (`--write`, then `--write --apply all`),
//! each rewrite is built, and the images are compared:
//! - the same Python distributions and versions in the same environments
//!   (layerscope's `python.environments`),
//! - the same application files: path, kind, mode, owner and sha256 of every
//!   entry under the image's WORKDIR and the case's extra roots, read from the
//!   final filesystem that the storage driver assembled (`podman image mount`),
//! - the same runtime settings (User, WorkingDir, Env, Cmd, Entrypoint,
//!   ExposedPorts of the image config, read with skopeo),
//! - a smaller image (compressed, what a pull downloads),
//! - the promised savings within 10 % of what the rebuild obtained, in total
//!   (compressed and uncompressed) and per finding kind.
//!
//! Each case is one test that lists everything that differed; its log and
//! the rewrites stay in `target/tmp/rewrite-build/CASE/`. With
//! `LAYERSCOPE_OPTIMIZER=PATH`, the rewrites come from that binary. The corpus is
//! numpy-only so that CI builds it in minutes; `scripts/bench-rewrite.sh`
//! builds the larger ML pair.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::support::realbuild::{BuildEnv, Entry, build_env, final_files, runtime_config};
use crate::support::{analyze_json, layerscope, testdata};

/// Tolerance of a promise: 10 % of what was obtained, and a little slack
/// for figures too small for a percentage to mean anything (below 64 KiB a
/// compressed figure is mostly tar and gzip framing).
const TOLERANCE: f64 = 0.10;
const SLACK_BYTES: i64 = 64 * 1024;

/// Environment variables a rewrite may add to the config: they only turn
/// off a package manager's cache (the issue's `ENV PIP_NO_CACHE_DIR=1`).
const CACHE_ENV: &[&str] = &["PIP_NO_CACHE_DIR=", "UV_NO_CACHE="];

/// A command each rewrite of a case must run inside its image (with the
/// image's user and working directory): the packages import, and where the
/// CMD exits by itself (it loads the trained model), the CMD.
const RUN_CHECKS: &[(&str, &[&str])] = &[
    ("apt-pip", &["python3", "-c", "import numpy"]),
    ("venv", &["python", "-c", "import numpy"]),
    ("tutorial", &["python3", "serve.py"]),
    ("ml-naive", &["python3", "predict.py"]),
];

/// The prefix of the images the cases build (`LAYERSCOPE_RW_TAG` overrides
/// it, so that two checkouts building at once never share a tag).
fn tag_prefix() -> String {
    std::env::var("LAYERSCOPE_RW_TAG").unwrap_or_else(|_| "localhost/layerscope-rw".to_owned())
}

/// Runs `args` in a container of image `tag` (buildah, chroot isolation as
/// the builds): `Err` with the output's tail when it fails.
fn run_in(tag: &str, args: &[&str]) -> Result<(), String> {
    use std::process::Command;
    let from = Command::new("buildah")
        .args(["from", "--pull-never", tag])
        .output()
        .map_err(|e| e.to_string())?;
    let id = String::from_utf8_lossy(&from.stdout).trim().to_owned();
    if !from.status.success() || id.is_empty() {
        return Err(String::from_utf8_lossy(&from.stderr).into_owned());
    }
    let ran = Command::new("buildah")
        .args(["run", "--isolation", "chroot", &id, "--"])
        .args(args)
        .output();
    let _ = Command::new("buildah").args(["rm", &id]).output();
    let ran = ran.map_err(|e| e.to_string())?;
    if ran.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&ran.stderr);
    let lines: Vec<&str> = err.lines().collect();
    Err(lines[lines.len().saturating_sub(3)..].join(" | "))
}

/// The runtime settings compared.
const SETTINGS: &[&str] = &[
    "User",
    "WorkingDir",
    "Env",
    "Cmd",
    "Entrypoint",
    "ExposedPorts",
];

/// The two rewrites of each case.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    /// `--write`: the safe changes.
    Write,
    /// `--write --apply all`: the review changes too.
    ApplyAll,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Write => "write",
            Variant::ApplyAll => "apply-all",
        }
    }
}

/// What one built image offers to the comparison.
struct Built {
    report: Value,
    config: Value,
    files: BTreeMap<String, Entry>,
}

impl Built {
    fn read(env: &BuildEnv, tag: &str, dir: &Path, roots: &[String]) -> (String, Built) {
        let reference = env.export(tag, dir);
        let report = analyze_json(&reference, &[]);
        let config = runtime_config(tag);
        let mut all: Vec<String> = roots.to_vec();
        if let Some(w) = config["WorkingDir"]
            .as_str()
            .filter(|w| !w.is_empty() && *w != "/")
        {
            all.push(w.to_owned());
        }
        let files = final_files(tag, &all);
        (
            reference,
            Built {
                report,
                config,
                files,
            },
        )
    }

    fn compressed(&self) -> i64 {
        self.report["image"]["compressed_bytes"]
            .as_i64()
            .unwrap_or(0)
    }

    fn content(&self) -> i64 {
        self.report["image"]["content_bytes"].as_i64().unwrap_or(0)
    }

    /// (environment, name, version) of every Python distribution.
    fn distributions(&self) -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        for env in self.report["python"]["environments"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let path = env["path"].as_str().unwrap_or("").to_owned();
            for d in env["distributions"].as_array().into_iter().flatten() {
                out.insert((
                    path.clone(),
                    d["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_lowercase()
                        .replace('_', "-"),
                    d["version"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
        out
    }

    /// Bytes of the findings of one kind.
    fn finding_bytes(&self, kind: &str) -> i64 {
        self.report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["kind"] == kind)
            .map(|f| f["bytes"].as_i64().unwrap_or(0))
            .sum()
    }
}

/// Whether the optimizer says it applied `advice` in this variant. Uses the
/// advice's own `applied` flag when the report has one; before that existed,
/// `--write` applied the `automated` advice.
fn applied(advice: &Value, variant: Variant) -> bool {
    if let Some(a) = advice["applied"].as_bool() {
        return a;
    }
    match variant {
        Variant::Write => advice["automated"].as_bool().unwrap_or(false),
        Variant::ApplyAll => {
            advice["automated"].as_bool().unwrap_or(false) || advice["class"] == "review"
        }
    }
}

/// `LAYERSCOPE_TAG_PREFIX`, put before every tag this run builds, so that two
/// runs on one machine (two worktrees) never build over each other's images.
fn within(promised: i64, obtained: i64) -> bool {
    let slack = ((obtained.abs() as f64 * TOLERANCE) as i64).max(SLACK_BYTES);
    (promised - obtained).abs() <= slack
}

fn mb(b: i64) -> String {
    if b.abs() < 1_000_000 {
        format!("{:.1} kB", b as f64 / 1e3)
    } else {
        format!("{:.2} MB", b as f64 / 1e6)
    }
}

/// One corpus case: its folder under `testdata/rewrite/` and the paths, besides
/// the WORKDIR, whose files must come out of the rewrite unchanged.
struct Case {
    name: &'static str,
    roots: &'static [&'static str],
}

/// The running record of one case: timings and notes for the log, and the
/// problems that fail the test.
#[derive(Default)]
struct Outcome {
    notes: Vec<String>,
    problems: Vec<String>,
}

impl Outcome {
    fn note(&mut self, s: String) {
        self.notes.push(s);
    }
    fn problem(&mut self, variant: Variant, s: String) {
        self.problems.push(format!("[{}] {s}", variant.name()));
    }
}

fn run_case(case: &Case) {
    let Some(env) = build_env() else {
        return;
    };
    let context = testdata("rewrite").join(case.name);
    let dir = env.work.join(case.name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let roots: Vec<String> = case.roots.iter().map(|r| (*r).to_owned()).collect();
    let tag = |v: &str| format!("{}-{}:{v}", tag_prefix(), case.name);
    let mut out = Outcome::default();

    let time = env
        .build(
            &context,
            &context.join("Dockerfile"),
            &tag("orig"),
            &dir.join("orig.log"),
        )
        .unwrap_or_else(|e| panic!("{}: the original does not build: {e}", case.name));
    let (reference, orig) = Built::read(env, &tag("orig"), &dir.join("orig.oci"), &roots);
    out.note(format!(
        "original: built in {time:.0?}, {} compressed, {} content",
        mb(orig.compressed()),
        mb(orig.content())
    ));

    for variant in [Variant::Write, Variant::ApplyAll] {
        rewrite_and_compare(
            env, case, &context, &dir, &reference, &orig, variant, &mut out,
        );
    }

    let summary = format!(
        "{}:\n  {}\n{}",
        case.name,
        out.notes.join("\n  "),
        out.problems
            .iter()
            .map(|p| format!("  PROBLEM {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    std::fs::write(dir.join("outcome.txt"), &summary).unwrap();
    // The exported images are read already; the logs and rewrites stay.
    for v in ["orig", "write", "apply-all"] {
        let _ = std::fs::remove_dir_all(dir.join(format!("{v}.oci")));
    }
    if out.problems.is_empty() {
        eprintln!("{summary}");
    }
    assert!(out.problems.is_empty(), "{summary}");
}

#[allow(clippy::too_many_arguments)]
fn rewrite_and_compare(
    env: &BuildEnv,
    case: &Case,
    context: &Path,
    dir: &Path,
    reference: &str,
    orig: &Built,
    variant: Variant,
    out: &mut Outcome,
) {
    let v = variant.name();
    let rewritten = dir.join(format!("Dockerfile.{v}"));
    let json = dir.join(format!("optimize.{v}.json"));
    // LAYERSCOPE_OPTIMIZER runs another build's `optimize` (a branch under
    // review) against this harness; analysis stays with this build.
    let mut cmd = match std::env::var_os("LAYERSCOPE_OPTIMIZER") {
        Some(bin) => assert_cmd::Command::new(bin),
        None => layerscope(),
    };
    cmd.arg("optimize")
        .arg(reference)
        .arg("--dockerfile")
        .arg(context.join("Dockerfile"))
        .arg("--write")
        .arg(&rewritten)
        .args(["--format", "json", "--no-cache", "-o"])
        .arg(&json);
    if variant == Variant::ApplyAll {
        cmd.args(["--apply", "all"]);
    }
    let res = cmd.output().unwrap();
    if !res.status.success() {
        let err = String::from_utf8_lossy(&res.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        out.problem(
            variant,
            format!("`optimize` failed ({}): {}", res.status, first.trim()),
        );
        return;
    }
    let advice: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let original_text = std::fs::read_to_string(context.join("Dockerfile")).unwrap();
    if std::fs::read_to_string(&rewritten).unwrap_or_default() == original_text {
        out.problem(variant, "the rewrite changes nothing".into());
        return;
    }
    let tag = format!("{}-{}:{v}", tag_prefix(), case.name);
    let time = match env.build(context, &rewritten, &tag, &dir.join(format!("{v}.log"))) {
        Ok(t) => t,
        Err(e) => {
            out.problem(variant, format!("the rewrite does not build: {e}"));
            return;
        }
    };
    let roots: Vec<String> = case.roots.iter().map(|r| (*r).to_owned()).collect();
    let (_, new) = Built::read(env, &tag, &dir.join(format!("{v}.oci")), &roots);
    // Read: the exported copy is not needed any more (disk is shared).
    let _ = std::fs::remove_dir_all(dir.join(format!("{v}.oci")));
    out.note(format!(
        "{v}: built in {time:.0?}, {} compressed, {} content",
        mb(new.compressed()),
        mb(new.content())
    ));
    if let Some((_, args)) = RUN_CHECKS.iter().find(|(c, _)| *c == case.name) {
        match run_in(&tag, args) {
            Ok(()) => out.note(format!("{v}: `{}` runs in the image", args.join(" "))),
            Err(e) => out.problem(
                variant,
                format!("`{}` fails in the image: {e}", args.join(" ")),
            ),
        }
    }
    compare_contents(orig, &new, &advice, variant, out);
    compare_config(orig, &new, variant, out);
    compare_promises(orig, &new, &advice, variant, out);
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

fn compare_contents(
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

fn compare_config(orig: &Built, new: &Built, variant: Variant, out: &mut Outcome) {
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

fn compare_promises(
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

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds Debian images from the network: cargo test --features tools,realbuild"
)]
fn apt_pip() {
    run_case(&Case {
        name: "apt-pip",
        roots: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds Debian images from the network: cargo test --features tools,realbuild"
)]
fn venv() {
    run_case(&Case {
        name: "venv",
        roots: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds Debian images from the network: cargo test --features tools,realbuild"
)]
fn uv() {
    run_case(&Case {
        name: "uv",
        roots: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds Debian images from the network: cargo test --features tools,realbuild"
)]
fn multistage() {
    run_case(&Case {
        name: "multistage",
        roots: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds Debian images from the network: cargo test --features tools,realbuild"
)]
fn chown() {
    run_case(&Case {
        name: "chown",
        roots: &["/usr/local/lib/python3.11/dist-packages"],
    });
}

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds Debian images from the network: cargo test --features tools,realbuild"
)]
fn cache_order_case() {
    run_case(&Case {
        name: "cache-order",
        roots: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds Debian images from the network: cargo test --features tools,realbuild"
)]
fn tutorial() {
    run_case(&Case {
        name: "tutorial",
        roots: &["/usr/local/lib/python3.11/dist-packages"],
    });
}

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds Debian images from the network: cargo test --features tools,realbuild"
)]
fn ml_naive() {
    run_case(&Case {
        name: "ml-naive",
        roots: &["/usr/local/lib/python3.11/dist-packages"],
    });
}

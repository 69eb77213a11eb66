//! Rewrites that build (issue 12): every Dockerfile of `testdata/rewrite/`
//! is built for real with `buildah bud --layers` on a Debian bookworm base,
//! `layerscope optimize` rewrites it (`--write`, then `--write --apply all`),
//! each rewrite is built, and the images are compared:
//! - the same Python distributions and versions in the same environments
//!   (layerscope's `python.environments`),
//! - the same application files: path, kind, mode, owner and sha256 of every
//!   entry under the image's WORKDIR and the case's extra roots, read from the
//!   final filesystem that the storage driver assembled (`podman image mount`);
//!   bytecode and test suites an applied review change deletes may be gone,
//! - the same runtime settings (User, WorkingDir, Env, Cmd, Entrypoint,
//!   ExposedPorts of the image config, read with skopeo),
//! - a smaller image (compressed, what a pull downloads),
//! - the promised savings within 10 % of what the rebuild obtained, in total
//!   (compressed and uncompressed), and per finding kind at least what its
//!   changes promised (the comparisons are in `rewrite_build/compare.rs`).
//!
//! Each case is one test that lists everything that differed; its log and
//! the rewrites stay in `target/tmp/rewrite-build/CASE/`. With
//! `LAYERSCOPE_OPTIMIZER=PATH`, the rewrites come from that binary. The corpus is
//! numpy-only so that CI builds it in minutes; `scripts/bench-rewrite.sh`
//! builds the larger ML pair.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod compare;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use compare::{compare_config, compare_contents, compare_promises};

use crate::support::realbuild::{BuildEnv, Entry, build_env, final_files, run_in, runtime_config};
use crate::support::{analyze_json, layerscope, testdata};

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
            Ok(_) => out.note(format!("{v}: `{}` runs in the image", args.join(" "))),
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

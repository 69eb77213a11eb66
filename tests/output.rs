//! The output convention every command shares (`--format`, repeatable
//! `-o/--output [FORMAT=]PATH`, `-` for standard output) and the errors
//! with hints (issue 16).
#![allow(clippy::unwrap_used)]

use layerscope::fixture::{image, layer, sized_file};

use crate::support::{Run, layerscope, run_cmd};

fn fixture(dir: &std::path::Path) -> String {
    let path = dir.join("img.tar");
    image(vec![layer(vec![sized_file("a/b", 5_000, 1)])])
        .write_oci_archive(&path, "latest")
        .unwrap();
    path.display().to_string()
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> Run {
    let mut cmd = layerscope();
    cmd.current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .args(args)
        .arg("--no-cache");
    run_cmd(cmd)
}

#[test]
fn format_equals_path_writes_that_format() {
    // Before: `analyze -o json=x.json` wrote a text report to a file named
    // `json=x.json`.
    let dir = tempfile::tempdir().unwrap();
    let img = fixture(dir.path());
    let run = run_in(dir.path(), &["analyze", &img, "-o", "json=x.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("Image "), "{}", run.stdout);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("x.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], "layerscope/analysis/v1");
    assert!(!dir.path().join("json=x.json").exists());
}

#[test]
fn dash_is_standard_output() {
    // Before: `check -o json=-` wrote a file named `-`.
    let dir = tempfile::tempdir().unwrap();
    let img = fixture(dir.path());
    let run = run_in(
        dir.path(),
        &["check", &img, "--max-layers", "1", "-o", "json=-"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["check"]["passed"], true);
    assert!(!dir.path().join("-").exists());
    // A bare path takes the --format report; nothing goes to stdout.
    let run = run_in(
        dir.path(),
        &["pull", &img, "--format", "json", "-o", "p.json"],
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    let pull: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("p.json")).unwrap()).unwrap();
    assert_eq!(pull["schema"], "layerscope/pull/v1");
    // Two reports cannot share standard output.
    let run = run_in(dir.path(), &["diff", &img, &img, "-o", "-", "-o", "json=-"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn every_command_lists_its_formats() {
    let dir = tempfile::tempdir().unwrap();
    let img = fixture(dir.path());
    let run = run_in(dir.path(), &["diff", &img, &img, "--format", "junit"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("`diff` has no junit report; it writes: text, json, markdown"),
        "{}",
        run.stderr
    );
    let run = run_in(dir.path(), &["analyze", &img, "--format", "html"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not available yet"), "{}", run.stderr);
    let run = run_in(dir.path(), &["analyze", &img, "-o", "pdf=x.pdf"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown format `pdf`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    // Markdown and SARIF of an analysis.
    let run = run_in(dir.path(), &["analyze", &img, "--format", "markdown"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("## layerscope: `"), "{}", run.stdout);
    let run = run_in(dir.path(), &["analyze", &img, "--format", "sarif"]);
    assert_eq!(run.json()["version"], "2.1.0");
}

#[test]
fn local_looking_references_are_files() {
    let dir = tempfile::tempdir().unwrap();
    // Not a DNS lookup of a host named `app.tar`.
    let run = run_in(dir.path(), &["analyze", "app.tar:latest"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);
    let run = run_in(dir.path(), &["analyze", "docker-archiv:app.tar"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown transport `docker-archiv:`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: known transports: docker://, docker-archive:"),
        "{}",
        run.stderr
    );
}

#[test]
fn refused_connection_names_the_registry() {
    // Port 1 on loopback: nothing listens (connection refused at once).
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        &["analyze", "127.0.0.1:1/app:1", "--manifest-only"],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("hint: nothing answers at `127.0.0.1:1`"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_finding_kind_lists_the_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let img = fixture(dir.path());
    std::fs::write(
        dir.path().join("layerscope.toml"),
        "[findings]\npip-cash = 0\n",
    )
    .unwrap();
    let run = run_in(dir.path(), &["check", &img]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("finding kinds: "), "{}", run.stderr);
    assert!(run.stderr.contains("pip-cache"), "{}", run.stderr);
}

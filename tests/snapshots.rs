//! Snapshot tests (`insta`) of the reports every command writes: the text
//! and JSON of `analyze`, `check`, `diff` and `pull`, and the Markdown of
//! `check`. They pin the layout; the figures in them come from a fixture
//! built in code, and other modules check those figures against the
//! fixture's construction. Temporary paths are filtered out.
//!
//! A change to a report shows here as a diff: review it, then accept with
//! `cargo insta review` or `INSTA_UPDATE=always cargo test --test tests snapshots::`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use layerscope::fixture::{Image, file, image, layer, owned, sized_file, whiteout};

use crate::support::{layerscope, run_cmd};

/// Three layers: a base, an application with a pip cache and a Python
/// distribution, and a cleanup that shadows bytes.
fn app() -> Image {
    image(vec![
        layer(vec![
            sized_file("bin/busybox", 30_000, 1),
            file("etc/os-release", [b'x'; 100]),
        ])
        .created_by("/bin/sh -c #(nop) ADD file:ab12 in / "),
        layer(vec![
            sized_file("root/.cache/pip/http/a", 12_000, 2),
            file(
                "usr/lib/python3.12/site-packages/req-2.0.dist-info/METADATA",
                b"Name: req\nVersion: 2.0\n",
            ),
            file(
                "usr/lib/python3.12/site-packages/req-2.0.dist-info/RECORD",
                b"req/__init__.py,,\n",
            ),
            sized_file("usr/lib/python3.12/site-packages/req/__init__.py", 4_000, 3),
            sized_file("app/data.bin", 8_000, 4),
        ])
        .created_by("RUN /bin/sh -c pip install req # buildkit"),
        layer(vec![
            whiteout("root/.cache"),
            owned(sized_file("app/data.bin", 8_000, 4), 1000),
        ])
        .created_by("RUN /bin/sh -c rm -rf /root/.cache && chown -R app /app # buildkit"),
    ])
}

/// The app with its data file grown and the distribution gone.
fn app_v2() -> Image {
    let mut img = app();
    img.layers[1] = layer(vec![
        sized_file("root/.cache/pip/http/a", 12_000, 2),
        sized_file("app/data.bin", 20_000, 4),
        sized_file("app/extra.bin", 1_000, 9),
    ])
    .created_by("RUN /bin/sh -c pip install --upgrade req # buildkit");
    img
}

fn write(img: &Image, dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    img.write_oci_archive(&path, "latest").unwrap();
    path.display().to_string()
}

/// Runs the binary in `dir` (no cache, no GitHub) and returns stdout with
/// `dir` replaced by `[DIR]`.
fn stdout(dir: &Path, args: &[&str]) -> String {
    let mut cmd = layerscope();
    cmd.current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "120")
        .args(args)
        .arg("--no-cache");
    let run = run_cmd(cmd);
    assert!(run.code == 0 || run.code == 1, "{args:?}: {}", run.stderr);
    run.stdout.replace(&dir.display().to_string(), "[DIR]")
}

#[test]
fn analyze_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(&app(), dir.path(), "app.tar");
    insta::assert_snapshot!("analyze_text", stdout(dir.path(), &["analyze", &img]));
    insta::assert_snapshot!(
        "analyze_json",
        stdout(dir.path(), &["analyze", &img, "--format", "json"])
    );
}

#[test]
fn check_text_json_and_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(&app(), dir.path(), "app.tar");
    let budgets = [
        "check",
        &img,
        "--max-shadowed",
        "10kB",
        "--max-layers",
        "3",
        "--max-finding",
        "pip-cache=0",
        "--base-layers",
        "1",
    ];
    insta::assert_snapshot!("check_text", stdout(dir.path(), &budgets));
    let mut json = budgets.to_vec();
    json.extend(["--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(dir.path(), &json)).unwrap();
    insta::assert_json_snapshot!("check_json", json["check"]);
    let mut md = budgets.to_vec();
    md.extend(["--format", "markdown"]);
    insta::assert_snapshot!("check_markdown", stdout(dir.path(), &md));
}

#[test]
fn diff_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(&app(), dir.path(), "old.tar");
    let new = write(&app_v2(), dir.path(), "new.tar");
    insta::assert_snapshot!("diff_text", stdout(dir.path(), &["diff", &old, &new]));
    insta::assert_snapshot!(
        "diff_json",
        stdout(dir.path(), &["diff", &old, &new, "--format", "json"])
    );
}

#[test]
fn pull_text() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(&app(), dir.path(), "old.tar");
    let new = write(&app_v2(), dir.path(), "new.tar");
    insta::assert_snapshot!("pull_text", stdout(dir.path(), &["pull", &old, &new]));
}

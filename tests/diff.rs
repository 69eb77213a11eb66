//! `layerscope diff` on two versions of a fixture image differing by known
//! layers and files, with exact deltas.
#![allow(clippy::unwrap_used)]

use layerscope::fixture::{Image, image, layer, owned, sized_file};
use layerscope::scan::Compression;
use serde_json::Value;

use crate::support::layerscope;

/// Version 1: a base layer and an application layer.
fn v1() -> Image {
    image(vec![
        layer(vec![sized_file("bin/busybox", 30_000, 1)]).created_by("ADD rootfs.tar /"),
        layer(vec![
            sized_file("app/main.py", 1_000, 2),
            sized_file("site/foo.py", 4_000, 3),
        ])
        .created_by("COPY . /"),
    ])
}

/// Version 2: the same base, main.py grown to 1 500 bytes, and a new layer
/// adding a 6 000-byte file and chowning main.py (a 1 500-byte rewrite).
fn v2() -> Image {
    image(vec![
        layer(vec![sized_file("bin/busybox", 30_000, 1)]).created_by("ADD rootfs.tar /"),
        layer(vec![
            sized_file("app/main.py", 1_500, 2),
            sized_file("site/foo.py", 4_000, 3),
        ])
        .created_by("COPY . /"),
        layer(vec![
            sized_file("app/new.bin", 6_000, 4),
            owned(sized_file("app/main.py", 1_500, 2), 1000),
        ])
        .created_by("RUN fetch && chown app /app/main.py"),
    ])
}

fn c(img: &Image, i: usize) -> i64 {
    img.layers[i].blob(Compression::Gzip).len() as i64
}

fn u(img: &Image, i: usize) -> i64 {
    img.layers[i].tar().len() as i64
}

fn digest(img: &Image, i: usize) -> String {
    layerscope::Digest::of(&img.layers[i].blob(Compression::Gzip)).to_string()
}

fn run_diff(format: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    v1().write_oci_archive(&dir.path().join("v1.tar"), "1")
        .unwrap();
    v2().write_oci_archive(&dir.path().join("v2.tar"), "2")
        .unwrap();
    let mut cmd = layerscope();
    cmd.args(["diff", "--no-cache", "--format", format])
        .arg(dir.path().join("v1.tar"))
        .arg(dir.path().join("v2.tar"));
    let run = crate::support::run_cmd(cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (dir, run.stdout)
}

#[test]
fn layers_shared_added_removed_with_exact_deltas() {
    let (old, new) = (v1(), v2());
    let (_dir, out) = run_diff("json");
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["schema"], "layerscope/diff/v1");
    let digests = |key: &str| -> Vec<String> {
        d["layers"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(digests("shared"), [digest(&new, 0)]);
    assert_eq!(digests("added"), [digest(&new, 1), digest(&new, 2)]);
    assert_eq!(digests("removed"), [digest(&old, 1)]);
    assert_eq!(
        d["layers"]["compressed_delta"],
        c(&new, 1) + c(&new, 2) - c(&old, 1)
    );
    assert_eq!(
        d["layers"]["uncompressed_delta"],
        u(&new, 1) + u(&new, 2) - u(&old, 1)
    );
    assert_eq!(d["layers"]["download_bytes"], c(&new, 1) + c(&new, 2));
    assert_eq!(d["old"]["final_bytes"], 35_000);
    assert_eq!(d["new"]["final_bytes"], 41_500);
}

#[test]
fn files_directories_and_findings_that_changed() {
    let (_dir, out) = run_diff("json");
    let d: Value = serde_json::from_str(&out).unwrap();
    let rows = |key: &str| -> Vec<(String, i64, i64, i64)> {
        d[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["path"].as_str().unwrap().to_owned(),
                    p["old_bytes"].as_i64().unwrap(),
                    p["new_bytes"].as_i64().unwrap(),
                    p["delta"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        rows("files"),
        [
            ("/app/new.bin".to_owned(), 0, 6_000, 6_000),
            ("/app/main.py".to_owned(), 1_000, 1_500, 500)
        ]
    );
    assert_eq!(
        rows("directories"),
        [("/app".to_owned(), 1_000, 7_500, 6_500)]
    );
    let appeared = d["findings"]["appeared"].as_array().unwrap();
    assert_eq!(appeared.len(), 1);
    assert_eq!(appeared[0]["kind"], "metadata-rewrite");
    assert_eq!(appeared[0]["new_bytes"], 1_500);
    assert!(d["findings"]["vanished"].as_array().unwrap().is_empty());
}

#[test]
fn text_report() {
    let (_dir, out) = run_diff("text");
    assert!(
        out.contains("Layers: 1 shared, 2 added, 1 removed"),
        "{out}"
    );
    assert!(out.contains("+6.5 kB  /app\n"), "{out}");
    assert!(out.contains("appeared  metadata-rewrite"), "{out}");
}

#[test]
fn python_distributions_upgraded_with_size_change() {
    // torch 2.1.0 (100 + 40 000 bytes) -> 2.2.0 (100 + 50 000 bytes).
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.tar"), dir.path().join("new.tar"));
    crate::check::torch_image("2.1.0", 40_000)
        .write_oci_archive(&old, "1")
        .unwrap();
    crate::check::torch_image("2.2.0", 50_000)
        .write_oci_archive(&new, "2")
        .unwrap();
    let mut cmd = layerscope();
    cmd.args(["diff", "--no-cache", "--format", "json"])
        .arg(&old)
        .arg(&new);
    let d: Value = crate::support::run_cmd(cmd).ok_json();
    let p = &d["distributions"];
    assert!(p["added"].as_array().unwrap().is_empty(), "{p}");
    assert!(p["removed"].as_array().unwrap().is_empty(), "{p}");
    let up = &p["upgraded"][0];
    assert_eq!(up["name"], "torch");
    assert_eq!(
        (up["old_bytes"].as_u64(), up["new_bytes"].as_u64()),
        (Some(40_100), Some(50_100))
    );
    assert_eq!(up["delta"], 10_000);
    let out = layerscope()
        .args(["diff", "--no-cache"])
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("~ torch 2.1.0 -> 2.2.0  +10.0 kB"), "{text}");
}

#[test]
fn shows_what_shrank() {
    // Reversed: v2 -> v1 drops /app/new.bin (6 000 bytes) and shrinks
    // /app/main.py from 1 500 to 1 000 bytes; /app falls by 6 500.
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("v2.tar"), dir.path().join("v1.tar"));
    v2().write_oci_archive(&old, "2").unwrap();
    v1().write_oci_archive(&new, "1").unwrap();
    let mut cmd = layerscope();
    cmd.args(["diff", "--no-cache", "--format", "json"])
        .arg(&old)
        .arg(&new);
    let d = crate::support::run_cmd(cmd).ok_json();
    let rows = |key: &str| -> Vec<(String, i64, i64, i64)> {
        d[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["path"].as_str().unwrap().to_owned(),
                    p["old_bytes"].as_i64().unwrap(),
                    p["new_bytes"].as_i64().unwrap(),
                    p["delta"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert!(rows("files").is_empty());
    assert_eq!(
        rows("files_shrunk"),
        [
            ("/app/new.bin".to_owned(), 6_000, 0, -6_000),
            ("/app/main.py".to_owned(), 1_500, 1_000, -500)
        ]
    );
    assert_eq!(
        rows("directories_shrunk"),
        [("/app".to_owned(), 7_500, 1_000, -6_500)]
    );
    let mut cmd = layerscope();
    cmd.args(["diff", "--no-cache"]).arg(&old).arg(&new);
    let text = crate::support::run_cmd(cmd).stdout;
    let shrank = text
        .split("Directories that shrank most:")
        .nth(1)
        .unwrap_or("");
    assert!(shrank.contains("-6.5 kB  /app\n"), "{text}");
}

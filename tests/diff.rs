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

fn diff_json(old: &std::path::Path, new: &std::path::Path) -> Value {
    let mut cmd = layerscope();
    cmd.args(["diff", "--no-cache", "--format", "json"])
        .arg(old)
        .arg(new);
    crate::support::run_cmd(cmd).ok_json()
}

fn matched_by(d: &Value) -> Vec<String> {
    d["layers"]["shared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["matched_by"].as_str().unwrap_or("null").to_owned())
        .collect()
}

#[test]
fn docker_and_oci_archive_of_one_image_share_every_layer_by_diff_id() {
    let (old, new) = (
        crate::support::testdata("python-ml.tar"),
        crate::support::testdata("python-ml.oci.tar"),
    );
    let d = diff_json(&old, &new);
    // The docker archive holds uncompressed layers, the OCI archive
    // compressed ones: every blob differs, every content is the same.
    let layers = d["new"]["layers"].as_u64().unwrap();
    assert_eq!(d["old"]["layers"].as_u64(), Some(layers));
    assert!(layers > 0);
    assert_eq!(matched_by(&d), vec!["diff_id"; layers as usize]);
    assert!(d["layers"]["added"].as_array().unwrap().is_empty(), "{d}");
    assert!(d["layers"]["removed"].as_array().unwrap().is_empty(), "{d}");
    assert_eq!(d["layers"]["download_bytes"], 0);
    let mut cmd = layerscope();
    cmd.args(["diff", "--no-cache"]).arg(&old).arg(&new);
    let text = crate::support::run_cmd(cmd).stdout;
    assert!(
        text.contains(&format!(
            "Layers: {layers} shared, 0 added, 0 removed ({layers} shared by diff_id"
        )),
        "{text}"
    );
}

#[test]
fn same_content_other_compression_matches_by_diff_id() {
    // v1 gzip vs v1 zstd: same tar streams, other blobs; v1 vs v1 gzip
    // matches by digest.
    let dir = tempfile::tempdir().unwrap();
    let (gz, zst) = (dir.path().join("gz.tar"), dir.path().join("zst.tar"));
    v1().write_oci_archive(&gz, "1").unwrap();
    v1().compressed(Compression::Zstd)
        .write_oci_archive(&zst, "1")
        .unwrap();
    let d = diff_json(&gz, &zst);
    assert_eq!(matched_by(&d), ["diff_id", "diff_id"]);
    assert!(d["layers"]["added"].as_array().unwrap().is_empty(), "{d}");
    assert!(d["layers"]["removed"].as_array().unwrap().is_empty(), "{d}");
    let d = diff_json(&gz, &gz);
    assert_eq!(matched_by(&d), ["digest", "digest"]);
    // v1 -> v2 (both gzip): the base layer by digest, the rest differ.
    let v2p = dir.path().join("v2.tar");
    v2().write_oci_archive(&v2p, "2").unwrap();
    let d = diff_json(&zst, &v2p);
    assert_eq!(matched_by(&d), ["diff_id"]);
    assert_eq!(d["layers"]["added"].as_array().unwrap().len(), 2);
    assert_eq!(d["layers"]["removed"].as_array().unwrap().len(), 1);
}

const SITE: &str = "usr/local/lib/python3.11/site-packages";

fn dist_files(name: &str, version: &str) -> Vec<layerscope::fixture::Item> {
    let di = format!("{SITE}/{name}-{version}.dist-info");
    vec![
        sized_file(format!("{SITE}/{name}/__init__.py"), 500, 7),
        layerscope::fixture::file(
            format!("{di}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"),
        ),
        layerscope::fixture::file(format!("{di}/RECORD"), format!("{name}/__init__.py,,\n")),
    ]
}

/// A base, a layer installing numpy (pinned) and one installing certifi
/// and idna (transitive, free to drift).
fn build(certifi: &str, idna: &str) -> Image {
    let mut deps = dist_files("certifi", certifi);
    deps.extend(dist_files("idna", idna));
    image(vec![
        layer(vec![sized_file("bin/busybox", 30_000, 1)]).created_by("ADD rootfs.tar /"),
        layer(dist_files("numpy", "1.26.4")).created_by("RUN pip install numpy==1.26.4"),
        layer(deps).created_by("RUN pip install requests"),
    ])
}

#[test]
fn changed_layer_names_the_distributions_that_drifted() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    build("2024.2.2", "3.6")
        .write_oci_archive(&old, "1")
        .unwrap();
    build("2024.7.4", "3.7")
        .write_oci_archive(&new, "2")
        .unwrap();
    let d = diff_json(&old, &new);
    assert_eq!(matched_by(&d), ["digest", "digest"]);
    let drift = d["layers"]["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{d}");
    assert_eq!(drift[0]["index"], 2);
    let changes: Vec<(String, String, String)> = drift[0]["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap().to_owned();
            (s("name"), s("old_version"), s("new_version"))
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("certifi".into(), "2024.2.2".into(), "2024.7.4".into()),
            ("idna".into(), "3.6".into(), "3.7".into())
        ]
    );
    let mut cmd = layerscope();
    cmd.args(["diff", "--no-cache"]).arg(&old).arg(&new);
    let text = crate::support::run_cmd(cmd).stdout;
    assert!(
        text.contains("    2  RUN pip install requests\n       certifi 2024.2.2 -> 2024.7.4\n       idna 3.6 -> 3.7\n"),
        "{text}"
    );
}

/// A regular file as a raw tar entry with the given mtime (the fixture
/// builder writes one fixed mtime).
fn file_at(path: &str, data: &[u8], mtime: u64) -> layerscope::fixture::Item {
    let mut h = layerscope::fixture::raw_header(b'0', path.as_bytes(), data.len() as u64);
    h[136..148].copy_from_slice(format!("{mtime:011o}\0").as_bytes());
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h.extend_from_slice(data);
    h.resize(h.len().div_ceil(512) * 512, 0);
    layerscope::fixture::raw(h)
}

/// Two builds of one Dockerfile: the base shared; layer 1 installs curl
/// at another version (content differs); layer 2 copies the same file
/// with another mtime; layer 3 chowns the same content; layer 4 writes
/// the same files but one with new content and one more file.
fn build_at(curl: &str, mtime: u64, owner: u64, extra: bool) -> Image {
    let status = crate::drift::stanza("curl", curl);
    let mut l4 = vec![
        sized_file("app/a.txt", 1_000, 7),
        sized_file("app/b.txt", 2_000, if extra { 9 } else { 8 }),
    ];
    if extra {
        l4.push(sized_file("app/c.txt", 10, 10));
    }
    image(vec![
        layer(vec![sized_file("bin/busybox", 30_000, 1)]).created_by("ADD rootfs.tar /"),
        layer(vec![
            sized_file("usr/bin/curl", 7_000, if extra { 3 } else { 2 }),
            layerscope::fixture::file("var/lib/dpkg/status", status),
            layerscope::fixture::file("var/lib/dpkg/info/curl.list", "/usr/bin/curl\n"),
        ])
        .created_by("RUN apt-get install -y curl"),
        layer(vec![file_at("app/conf.ini", b"[a]\nb = 1\n", mtime)])
            .created_by("COPY conf.ini /app/"),
        layer(vec![owned(sized_file("app/data.bin", 500, 5), owner)])
            .created_by("RUN chown app /app/data.bin"),
        layer(l4).created_by("RUN make"),
    ])
}

#[test]
fn drift_names_apt_versions_and_tells_metadata_from_content() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    build_at("7.88.1-10", 1_700_000_000, 0, false)
        .write_oci_archive(&old, "1")
        .unwrap();
    build_at("7.88.1-10+deb12u5", 1_700_086_400, 1000, true)
        .write_oci_archive(&new, "2")
        .unwrap();
    let d = diff_json(&old, &new);
    assert_eq!(matched_by(&d), ["digest"]);
    let drift = d["layers"]["drift"].as_array().unwrap();
    let idx: Vec<u64> = drift.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, [1, 2, 3, 4], "{d}");
    assert_eq!(
        drift[0]["packages"],
        serde_json::json!([{"name": "curl", "old_version": "7.88.1-10", "new_version": "7.88.1-10+deb12u5"}])
    );
    let files = |i: usize| &drift[i]["files"];
    let counts = |i: usize| {
        let f = files(i);
        ["content", "ownership_or_mode", "same", "added", "removed"].map(|k| f[k].as_u64().unwrap())
    };
    // curl's binary and the dpkg status changed; the .list did not.
    assert_eq!(counts(0), [2, 0, 1, 0, 0]);
    assert_eq!(files(0)["metadata_only"], false);
    assert_eq!(
        files(0)["content_paths"],
        serde_json::json!(["/usr/bin/curl", "/var/lib/dpkg/status"])
    );
    // The mtime alone: same content, owner and mode.
    assert_eq!(counts(1), [0, 0, 1, 0, 0]);
    assert_eq!(files(1)["metadata_only"], true);
    // The chown: ownership only.
    assert_eq!(counts(2), [0, 1, 0, 0, 0]);
    assert_eq!(files(2)["metadata_only"], true);
    assert_eq!(
        files(2)["ownership_paths"],
        serde_json::json!(["/app/data.bin"])
    );
    // New content in b.txt, c.txt added.
    assert_eq!(counts(3), [1, 0, 1, 1, 0]);
    assert_eq!(files(3)["metadata_only"], false);
    assert_eq!(files(3)["added_paths"], serde_json::json!(["/app/c.txt"]));

    for (format, needle) in [
        ("text", "apt curl 7.88.1-10 -> 7.88.1-10+deb12u5"),
        ("markdown", "apt curl 7.88.1-10 → 7.88.1-10+deb12u5"),
        (
            "text",
            "files vs old layer 2: 0 content, 0 owner/mode only, 1 same, 0 added, 0 removed (no content changed",
        ),
    ] {
        let mut cmd = layerscope();
        cmd.args(["diff", "--no-cache", "--format", format])
            .arg(&old)
            .arg(&new);
        let out = crate::support::run_cmd(cmd).stdout;
        assert!(out.contains(needle), "{format}: {out}");
    }
}

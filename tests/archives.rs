//! Archive and layout shapes other tools write (issue 14): compressed
//! layers in docker archives, choosing one image of several, platforms,
//! artifacts, foreign layers, pre-1.10 `docker save`, uncompressed layers'
//! estimated compressed size, hostile layouts and JSON. Every expected
//! figure comes from the fixture's construction.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use layerscope::digest::Digest;
use layerscope::fixture::archives::{
    self, FOREIGN, write_artifact_dir, write_dir_files, write_docker_archive_multi,
    write_oci_dir_multi, write_tar_files,
};
use layerscope::fixture::{Image, Layer, compress, file, image, layer, sized_file, whiteout};
use layerscope::scan::Compression;
use serde_json::Value;

use crate::support::{analyze_json, layerscope};

fn two_layers() -> Image {
    image(vec![
        layer(vec![
            sized_file("usr/lib/a.so", 20_000, 1),
            file("etc/os", "x\n"),
        ]),
        layer(vec![
            sized_file("app/main.py", 5_000, 2),
            whiteout("etc/os"),
        ]),
    ])
}

fn other_image() -> Image {
    image(vec![layer(vec![sized_file("srv/data", 7_000, 9)])])
}

/// Runs `analyze` and returns (exit code, stdout, stderr).
fn run(reference: &str, extra: &[&str]) -> (i32, String, String) {
    let out = layerscope()
        .arg("analyze")
        .arg(reference)
        .args(["--format", "json", "--no-cache"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn final_bytes_of(files: &[u64]) -> u64 {
    files.iter().sum()
}

// ---- 2. compressed layers in a docker archive ----

fn check_blobs(report: &Value, img: &Image, compression: Compression) {
    let layers = report["layers"].as_array().unwrap();
    assert_eq!(layers.len(), img.layers.len());
    for (l, fl) in layers.iter().zip(&img.layers) {
        let blob = fl.blob(compression);
        assert_eq!(l["digest"], Digest::of(&blob).to_string());
        assert_eq!(u(&l["compressed_bytes"]), blob.len() as u64);
        assert_eq!(l["diff_id"], Digest::of(&fl.tar()).to_string());
        assert_eq!(u(&l["uncompressed_bytes"]), fl.tar().len() as u64);
    }
    // 20,000 + 5,000 survive; etc/os (2 B) is deleted.
    assert_eq!(
        u(&report["image"]["final_bytes"]),
        final_bytes_of(&[20_000, 5_000])
    );
}

#[test]
fn tarball_gzip_layers_are_read_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers();
    let path = dir.path().join("crane.tar");
    img.write_tarball(&path, "example.com/app:1").unwrap();
    let reference = format!("docker-archive:{}", path.display());
    let r = analyze_json(&reference, &["--verify-diff-ids"]);
    check_blobs(&r, &img, Compression::Gzip);
    // A registry would serve these very blobs: nothing is estimated.
    assert!(r["image"].get("estimated_compressed_bytes").is_none());
}

#[test]
fn zstd_and_unnamed_compressed_layers_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers().compressed(Compression::Zstd);
    let zst = dir.path().join("zst.tar");
    let files = img.tarball_files("a:1", None, |_, d| format!("{}.tar.zst", d.hex()));
    write_tar_files(&zst, &files).unwrap();
    let r = analyze_json(
        &format!("docker-archive:{}", zst.display()),
        &["--verify-diff-ids"],
    );
    check_blobs(&r, &img, Compression::Zstd);

    // gzip blobs under names that do not say their digest: hashed.
    let img = two_layers();
    let plain = dir.path().join("layer-tar.tar");
    let files = img.tarball_files("a:1", None, |i, _| format!("{i}/layer.tar"));
    write_tar_files(&plain, &files).unwrap();
    let r = analyze_json(
        &format!("docker-archive:{}", plain.display()),
        &["--verify-diff-ids"],
    );
    check_blobs(&r, &img, Compression::Gzip);
}

#[test]
fn a_wrong_diff_id_fails_only_when_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers();
    let mut files = img.tarball_files("a:1", None, |_, d| format!("{}.tar.gz", d.hex()));
    // Give the config a diff id that the bottom layer does not have.
    let config = files
        .iter_mut()
        .find(|(n, _)| n.starts_with("sha256:"))
        .unwrap();
    let mut json: Value = serde_json::from_slice(&config.1).unwrap();
    json["rootfs"]["diff_ids"][0] = Value::String(Digest::of(b"not the layer").to_string());
    config.1 = serde_json::to_vec(&json).unwrap();
    let path = dir.path().join("bad.tar");
    write_tar_files(&path, &files).unwrap();
    let reference = format!("docker-archive:{}", path.display());
    let (code, _, _) = run(&reference, &[]);
    assert_eq!(code, 0, "the blob digest is right; the diff id is trusted");
    let (code, _, err) = run(&reference, &["--verify-diff-ids"]);
    assert_eq!(code, 3);
    assert!(err.contains("diff id mismatch"), "{err}");
}

// ---- 3. which image ----

fn multi(dir: &Path) -> String {
    let path = dir.join("multi.tar");
    let (a, b) = (two_layers(), other_image());
    write_docker_archive_multi(
        &path,
        &[(&a, &["app:1"][..]), (&b, &["example.com/data:2"][..])],
    )
    .unwrap();
    format!("docker-archive:{}", path.display())
}

#[test]
fn several_images_and_none_named_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let reference = multi(dir.path());
    let (code, _, err) = run(&reference, &[]);
    assert_eq!(code, 3);
    assert!(err.contains("holds 2 images"), "{err}");
    assert!(err.contains(&format!("{reference}:app:1")), "{err}");
    assert!(err.contains(":@1"), "{err}");
}

#[test]
fn an_image_is_picked_by_tag_or_position() {
    let dir = tempfile::tempdir().unwrap();
    let reference = multi(dir.path());
    for pick in ["example.com/data:2", "@1"] {
        let r = analyze_json(&format!("{reference}:{pick}"), &[]);
        assert_eq!(u(&r["image"]["final_bytes"]), 7_000, "{pick}");
    }
    // `app:1` is docker.io/library/app:1, as docker normalises it.
    for pick in ["app:1", "docker.io/library/app:1", "@0"] {
        let r = analyze_json(&format!("{reference}:{pick}"), &[]);
        assert_eq!(u(&r["image"]["final_bytes"]), 25_000, "{pick}");
    }
    for nope in ["nope", "app:2", "@2"] {
        let (code, _, err) = run(&format!("{reference}:{nope}"), &[]);
        assert_eq!(code, 3, "{nope}");
        assert!(err.contains(&format!("no image `{nope}`")), "{err}");
        assert!(
            err.contains("example.com/data:2"),
            "lists what exists: {err}"
        );
    }
}

#[test]
fn a_layout_with_several_tags_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    write_oci_dir_multi(&layout, &[(&two_layers(), "v1"), (&other_image(), "v2")]).unwrap();
    let reference = format!("oci:{}", layout.display());
    let (code, _, err) = run(&reference, &[]);
    assert_eq!(code, 3);
    assert!(
        err.contains(&format!("{reference}:v1")) && err.contains(":v2"),
        "{err}"
    );
    let r = analyze_json(&format!("{reference}:v2"), &[]);
    assert_eq!(u(&r["image"]["final_bytes"]), 7_000);
    let (code, _, err) = run(&format!("{reference}:v3"), &[]);
    assert_eq!(code, 3);
    assert!(
        err.contains("no image `v3`") && err.contains(":v1"),
        "{err}"
    );

    // The same two images as an OCI archive, picked by tag.
    let tar = dir.path().join("layout.tar");
    let files: Vec<(String, Vec<u8>)> = walk(&layout);
    write_tar_files(&tar, &files).unwrap();
    let r = analyze_json(&format!("oci-archive:{}:v1", tar.display()), &[]);
    assert_eq!(u(&r["image"]["final_bytes"]), 25_000);
}

fn walk(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(root).unwrap().display().to_string();
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[test]
fn manifest_json_wins_over_a_disagreeing_index_json() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (two_layers(), other_image());
    let mut files = a.docker_archive_oci_files("a:1");
    files.retain(|(n, _)| n != "index.json");
    for (name, data) in b.oci_files("b:1") {
        if !files.iter().any(|(n, _)| *n == name) {
            files.push((name, data));
        }
    }
    let path = dir.path().join("d25.tar");
    write_tar_files(&path, &files).unwrap();
    let r = analyze_json(&format!("docker-archive:{}", path.display()), &[]);
    assert_eq!(
        u(&r["image"]["final_bytes"]),
        25_000,
        "image a, as docker load"
    );
    assert_eq!(r["image"]["manifest_digest"], Value::Null);
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("describe different images"), "{warnings}");

    // When they agree, the OCI manifest gives the digest.
    let path = dir.path().join("agree.tar");
    write_tar_files(&path, &a.docker_archive_oci_files("a:1")).unwrap();
    let r = analyze_json(&format!("docker-archive:{}", path.display()), &[]);
    assert_eq!(
        r["image"]["manifest_digest"],
        a.manifest_digest().to_string()
    );
    assert_eq!(r["warnings"], Value::Array(Vec::new()));
}

// ---- 4. platforms ----

#[test]
fn a_platform_the_image_lacks_is_a_warning_naming_its_platform() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers().platform("linux/amd64");
    img.write_oci_dir(&dir.path().join("l"), "v1").unwrap();
    let r = analyze_json(
        &format!("oci:{}", dir.path().join("l").display()),
        &["--platform", "linux/arm64"],
    );
    let w = r["warnings"][0]["message"].as_str().unwrap();
    assert!(
        w.contains("linux/arm64") && w.contains("single-platform linux/amd64"),
        "{w}"
    );
    assert_eq!(r["image"]["platform"], "linux/amd64");
}

#[test]
fn index_entries_without_a_platform_are_not_listed_as_a_slash() {
    let dir = tempfile::tempdir().unwrap();
    let mut none = other_image();
    none.platform = Default::default();
    layerscope::fixture::write_multi_platform_oci_dir(
        &dir.path().join("l"),
        "v1",
        &[two_layers().platform("linux/amd64"), none],
    )
    .unwrap();
    let (code, _, err) = run(
        &format!("oci:{}:v1", dir.path().join("l").display()),
        &["--platform", "linux/s390x"],
    );
    assert_eq!(code, 3);
    assert!(
        err.contains("linux/amd64") && err.contains("(no platform)"),
        "{err}"
    );
    assert!(!err.contains(", /") && !err.contains(": /"), "{err}");
}

// ---- 5. artifacts ----

#[test]
fn artifacts_are_not_container_images() {
    let cases = [
        (
            None,
            "application/vnd.cncf.helm.config.v1+json",
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            "application/vnd.cncf.helm.config.v1+json",
        ),
        (
            Some("application/spdx+json"),
            "application/vnd.oci.empty.v1+json",
            "application/spdx+json",
            "application/spdx+json",
        ),
        (
            None,
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.dev.cosign.simplesigning.v1+json",
            "application/vnd.dev.cosign.simplesigning.v1+json",
        ),
    ];
    for (artifact, config, layer_type, named) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_artifact_dir(dir.path(), "v1", artifact, config, layer_type).unwrap();
        let (code, _, err) = run(&format!("oci:{}", dir.path().display()), &[]);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("is not a container image"), "{err}");
        assert!(err.contains(named), "{err}");
    }
}

// ---- 6. foreign layers, pre-1.10 archives ----

fn foreign() -> Layer {
    layer(vec![sized_file("Windows/System32/big.dll", 3_000, 77)])
}

#[test]
fn foreign_layers_without_blobs_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers();
    img.write_oci_dir_with_foreign(&dir.path().join("l"), "v1", &foreign())
        .unwrap();
    let r = analyze_json(&format!("oci:{}", dir.path().join("l").display()), &[]);
    assert_eq!(r["layers"].as_array().unwrap().len(), 2);
    assert_eq!(u(&r["image"]["final_bytes"]), 25_000);
    let fdigest = Digest::of(&foreign().blob(Compression::Gzip)).to_string();
    let w = r["warnings"].to_string();
    assert!(
        w.contains("skipped foreign layer") && w.contains(&fdigest),
        "{w}"
    );
    assert!(w.contains(archives::NONDISTRIBUTABLE), "{w}");

    // go-containerregistry's tarball: LayerSources, no file.
    let files = img.tarball_files("a:1", Some(&foreign()), |_, d| {
        format!("{}.tar.gz", d.hex())
    });
    let path = dir.path().join("t.tar");
    write_tar_files(&path, &files).unwrap();
    let r = analyze_json(&format!("docker-archive:{}", path.display()), &[]);
    assert_eq!(r["layers"].as_array().unwrap().len(), 2);
    assert_eq!(u(&r["image"]["content_bytes"]), 20_002 + 5_000);
    let w = r["warnings"].to_string();
    assert!(w.contains(FOREIGN) && w.contains(&fdigest), "{w}");
}

#[test]
fn pre_1_10_docker_save_archives_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers();
    let path = dir.path().join("old.tar");
    write_tar_files(&path, &img.legacy_files("old/app", "v0")).unwrap();
    // Detected without a prefix too.
    for reference in [
        format!("docker-archive:{}", path.display()),
        path.display().to_string(),
    ] {
        let r = analyze_json(&reference, &["--verify-diff-ids"]);
        let layers = r["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2);
        for (i, (l, fl)) in layers.iter().zip(&img.layers).enumerate() {
            assert_eq!(l["digest"], Digest::of(&fl.tar()).to_string());
            assert_eq!(u(&l["uncompressed_bytes"]), fl.tar().len() as u64);
            assert_eq!(l["created_by"], format!("/bin/sh -c step {i}"));
        }
        assert_eq!(u(&r["image"]["final_bytes"]), 25_000);
        assert_eq!(r["image"]["platform"], "linux/amd64");
    }
}

// ---- 7. uncompressed layers: compressed size estimated ----

#[test]
fn docker_save_layers_have_an_estimated_compressed_size() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers();
    let path = dir.path().join("save.tar");
    img.write_docker_archive(&path, "app:1").unwrap();
    let reference = format!("docker-archive:{}", path.display());
    let r = analyze_json(&reference, &[]);
    // Layers under 64 KiB are sampled whole: the estimate is gzip -6 of
    // the whole tar stream, as the fixture compresses it.
    let expected: Vec<u64> = img
        .layers
        .iter()
        .map(|l| compress(&l.tar(), Compression::Gzip).len() as u64)
        .collect();
    for (l, want) in r["layers"].as_array().unwrap().iter().zip(&expected) {
        assert_eq!(l["compressed_bytes"], Value::Null);
        assert_eq!(u(&l["estimated_compressed_bytes"]), *want);
    }
    let total: u64 = expected.iter().sum();
    assert_eq!(r["image"]["compressed_bytes"], Value::Null);
    assert_eq!(u(&r["image"]["estimated_compressed_bytes"]), total);
    assert_eq!(u(&r["pull"]["download_bytes"]), total);
    assert_eq!(r["pull"]["estimated"], true);

    let out = layerscope()
        .args(["analyze", &reference, "--no-cache", "--format", "text"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("estimated"), "{text}");

    let out = layerscope()
        .args(["check", &reference, "--no-cache", "--format", "json"])
        .args(["--max-compressed", &total.to_string()])
        .output()
        .unwrap();
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = c["check"]["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["budget"] == "max-compressed")
        .unwrap()
        .clone();
    assert_eq!(u(&b["value"]), total);
    assert!(b["measure"].as_str().unwrap().contains("estimated"), "{b}");
}

// ---- 10. layouts: regular files inside only ----

#[test]
fn layout_blobs_that_leave_the_layout_or_are_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers();
    let layout = dir.path().join("l");
    img.write_oci_dir(&layout, "v1").unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "SECRET-CONTENT-123").unwrap();
    let blob = |l: &Layer| {
        let d = Digest::of(&l.blob(Compression::Gzip));
        layout.join("blobs/sha256").join(d.hex())
    };
    let victim = blob(&img.layers[1]);
    std::fs::remove_file(&victim).unwrap();
    std::os::unix::fs::symlink(&secret, &victim).unwrap();
    let (code, _, err) = run(&format!("oci:{}", layout.display()), &[]);
    assert_eq!(code, 3);
    assert!(err.contains("leads out of the layout"), "{err}");
    assert!(!err.contains("SECRET"), "{err}");

    // A symlink to a blob inside the layout is fine... as long as it is
    // that blob: here it points at layer 0's and, with `--verify`, the
    // digest check fails.
    std::fs::remove_file(&victim).unwrap();
    std::os::unix::fs::symlink(blob(&img.layers[0]), &victim).unwrap();
    // Local layouts are trusted unless `--verify` asks for the check.
    let (code, _, err) = run(&format!("oci:{}", layout.display()), &["--verify"]);
    assert_eq!(code, 3);
    assert!(err.contains("digest mismatch"), "{err}");

    // A FIFO would block the reader: refused before it is opened.
    std::fs::remove_file(&victim).unwrap();
    let ok = std::process::Command::new("mkfifo")
        .arg(&victim)
        .status()
        .unwrap();
    assert!(ok.success());
    let (code, _, err) = run(&format!("oci:{}", layout.display()), &[]);
    assert_eq!(code, 3);
    assert!(err.contains("not a regular file"), "{err}");
}

// ---- 14. duplicate keys, oversized documents ----

#[test]
fn duplicate_keys_and_oversized_documents_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = two_layers();
    // manifest.json with `Layers` twice: the last would win silently.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let path = dir.path().join("save.tar");
    img.write_docker_archive(&path, "a:1").unwrap();
    let mut archive = tar::Archive::new(std::fs::File::open(&path).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        files.push((name, data));
    }
    let manifest = files
        .iter_mut()
        .find(|(n, _)| n == "manifest.json")
        .unwrap();
    let text = String::from_utf8(manifest.1.clone()).unwrap();
    manifest.1 = text
        .replacen("\"Layers\":", "\"Layers\":[],\"Layers\":", 1)
        .into_bytes();
    write_tar_files(&path, &files).unwrap();
    let (code, _, err) = run(&format!("docker-archive:{}", path.display()), &[]);
    assert_eq!(code, 3);
    assert!(err.contains("duplicate key `Layers`"), "{err}");

    // An OCI manifest with `layers` twice, and a config over 4 MiB.
    let mut files = img.oci_files("v1");
    let index_at = files.iter().position(|(n, _)| n == "index.json").unwrap();
    let digest = img.manifest_digest();
    let m_at = files
        .iter()
        .position(|(n, _)| n.ends_with(digest.hex()))
        .unwrap();
    let text = String::from_utf8(files[m_at].1.clone()).unwrap();
    let dup = text
        .replacen("\"layers\":", "\"layers\":[],\"layers\":", 1)
        .into_bytes();
    let new = Digest::of(&dup);
    files[m_at] = (format!("blobs/sha256/{}", new.hex()), dup.clone());
    let index = String::from_utf8(files[index_at].1.clone()).unwrap();
    files[index_at].1 = index
        .replace(digest.as_str(), new.as_str())
        .replace(
            &format!("\"size\":{}", text.len()),
            &format!("\"size\":{}", dup.len()),
        )
        .into_bytes();
    let layout = dir.path().join("dup");
    write_dir_files(&layout, &files).unwrap();
    let (code, _, err) = run(&format!("oci:{}", layout.display()), &[]);
    assert_eq!(code, 3);
    assert!(err.contains("duplicate key `layers`"), "{err}");

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut config = img.config();
    config.pop();
    config.extend(std::iter::repeat_n(b' ', 4 << 20));
    config.push(b'}');
    let config_name = format!("{}.json", Digest::of(&config).hex());
    files.push((config_name.clone(), config));
    let mut layers = Vec::new();
    for l in &img.layers {
        let name = format!("{}/layer.tar", Digest::of(&l.tar()).hex());
        files.push((name.clone(), l.tar()));
        layers.push(name);
    }
    let m = serde_json::json!([{"Config": config_name, "RepoTags": ["a:1"], "Layers": layers}]);
    files.push(("manifest.json".into(), serde_json::to_vec(&m).unwrap()));
    let path = dir.path().join("big.tar");
    write_tar_files(&path, &files).unwrap();
    let (code, _, err) = run(&format!("docker-archive:{}", path.display()), &[]);
    assert_eq!(code, 3);
    assert!(err.contains("4 MiB"), "{err}");
}

// ---- 18. the spooled archive is removed on SIGTERM ----

#[test]
fn a_spooled_archive_is_removed_on_sigterm() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("layerscope"))
        .args([
            "analyze",
            "docker-archive:-",
            "--no-cache",
            "--format",
            "json",
        ])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&vec![0u8; 1 << 20]).unwrap();
    // Wait for the spool to appear (stdin stays open: the copy blocks).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(tmp.path()).unwrap().count() == 0 {
        assert!(std::time::Instant::now() < deadline, "no spool appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    drop(stdin);
    assert!(!status.success());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

//! The verification policy (DESIGN.md "Verification") end to end: local
//! layouts are trusted unless `--verify`, a cached index of unverified
//! bytes is never served to `--verify`, `sha512:` digests are checked,
//! uppercase hex is an invalid digest, and the JSON says what was checked.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use layerscope::fixture::{Layer, file, image, layer, sized_file};
use layerscope::scan::Compression;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256, Sha512};

use crate::support::layerscope;

fn layers() -> Vec<Layer> {
    vec![
        layer(vec![sized_file("usr/lib/libbig.so", 40_000, 1)]),
        layer(vec![file("app/main.py", b"print(1)\n")]),
    ]
}

/// An OCI layout of [`layers`] in `dir`; returns the path of the top
/// layer's blob file.
fn write_layout(dir: &Path) -> std::path::PathBuf {
    image(layers())
        .compressed(Compression::Gzip)
        .write_oci_dir(dir, "t")
        .unwrap();
    let hex = hex::encode(Sha256::digest(layers()[1].blob(Compression::Gzip)));
    dir.join("blobs/sha256").join(hex)
}

/// Replaces a layer blob by another valid gzip layer: the bytes no longer
/// match the digest the manifest names.
fn tamper(blob: &Path) {
    let other = layer(vec![file("app/main.py", b"print(666)\n")]);
    std::fs::write(blob, other.blob(Compression::Gzip)).unwrap();
}

fn run(target: &str, flags: &[&str]) -> std::process::Output {
    layerscope()
        .arg("analyze")
        .arg(target)
        .args(["--format", "json"])
        .args(flags)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("LAYERSCOPE_CACHE_DIR")
        .output()
        .unwrap()
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_tampered_local_blob_passes_unless_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = write_layout(tmp.path());
    let target = format!("oci:{}", tmp.path().display());

    let report = json_of(&run(&target, &["--no-cache"]));
    assert_eq!(
        report["verification"],
        json!({
            "requested": "trust",
            "manifest": true,
            "config": true,
            "layer_blobs": 0,
            "layer_diff_ids": 0,
            "layers_unverified": 2,
        })
    );
    let verified = json_of(&run(&target, &["--no-cache", "--verify"]));
    assert_eq!(
        verified["verification"],
        json!({
            "requested": "diff-ids",
            "manifest": true,
            "config": true,
            "layer_blobs": 2,
            "layer_diff_ids": 2,
            "layers_unverified": 0,
        })
    );

    tamper(&blob);
    // Trusted: read as it is (the substitute's 11-byte file is counted).
    let trusted = json_of(&run(&target, &["--no-cache"]));
    assert_eq!(trusted["image"]["content_bytes"], 40_000 + 11);
    for flag in ["--verify", "--verify-diff-ids"] {
        let out = run(&target, &["--no-cache", flag]);
        assert_eq!(out.status.code(), Some(3), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("blob digest mismatch"), "{flag}: {err}");
    }
}

#[test]
fn an_unverified_cached_index_is_not_served_to_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    let blob = write_layout(&dir);
    tamper(&blob);
    let target = format!("oci:{}", dir.display());
    let cache = tmp.path().join("cache");
    let flags = ["--cache-dir", cache.to_str().unwrap()];

    // Cached from trusted (tampered) bytes, and served to trusting runs.
    let first = json_of(&run(&target, &flags));
    assert_eq!(first["scan"]["layers_scanned"], 2);
    let second = json_of(&run(&target, &flags));
    assert_eq!(second["scan"]["layers_cached"], 2);
    // A verifying run rescans, and so finds the tampering.
    let out = run(&target, &[&flags[..], &["--verify"]].concat());
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("blob digest mismatch"));
}

#[test]
fn verified_indexes_are_served_to_later_verifying_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("img");
    write_layout(&dir);
    let target = format!("oci:{}", dir.display());
    let cache = tmp.path().join("cache");
    let flags = ["--cache-dir", cache.to_str().unwrap(), "--verify"];
    assert_eq!(json_of(&run(&target, &flags))["scan"]["layers_scanned"], 2);
    let warm = json_of(&run(&target, &flags));
    assert_eq!(warm["scan"]["layers_cached"], 2);
    assert_eq!(warm["verification"]["layer_blobs"], 2);
    // And to trusting runs.
    let trusting = json_of(&run(&target, &flags[..2]));
    assert_eq!(trusting["scan"]["layers_cached"], 2);
}

/// Rewrites the layout in `dir` so that the top layer is named by its
/// sha512 digest (stored under `blobs/sha512/`); returns that blob's path.
fn use_sha512(dir: &Path) -> std::path::PathBuf {
    let read = |p: &Path| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let mut index = read(&dir.join("index.json"));
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let manifest_path = dir.join("blobs/sha256").join(&manifest_digest[7..]);
    let mut manifest = read(&manifest_path);
    let blob = layers()[1].blob(Compression::Gzip);
    let hex512 = hex::encode(Sha512::digest(&blob));
    std::fs::create_dir_all(dir.join("blobs/sha512")).unwrap();
    let path512 = dir.join("blobs/sha512").join(&hex512);
    std::fs::write(&path512, &blob).unwrap();
    manifest["layers"][1]["digest"] = json!(format!("sha512:{hex512}"));
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let new_hex = hex::encode(Sha256::digest(&bytes));
    std::fs::write(dir.join("blobs/sha256").join(&new_hex), &bytes).unwrap();
    index["manifests"][0]["digest"] = json!(format!("sha256:{new_hex}"));
    index["manifests"][0]["size"] = json!(bytes.len());
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    path512
}

#[test]
fn sha512_layer_digests_are_verified() {
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path());
    let blob = use_sha512(tmp.path());
    let target = format!("oci:{}", tmp.path().display());
    let report = json_of(&run(&target, &["--no-cache", "--verify"]));
    assert_eq!(report["verification"]["layer_blobs"], 2);
    assert_eq!(report["image"]["content_bytes"], 40_000 + 9);
    tamper(&blob);
    let out = run(&target, &["--no-cache", "--verify"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("blob digest mismatch") && err.contains("sha512:"),
        "{err}"
    );
}

#[test]
fn uppercase_hex_is_an_invalid_digest_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path());
    let path = tmp.path().join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let upper = format!("sha256:{}", digest[7..].to_ascii_uppercase());
    assert_ne!(upper, digest);
    index["manifests"][0]["digest"] = json!(upper);
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
    let out = run(&format!("oci:{}", tmp.path().display()), &["--no-cache"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&upper) && err.contains("not a valid digest"),
        "{err}"
    );
}

/// A docker archive given as a bare path is detected and read, and so is
/// an OCI archive, each in one pass (the indexing seeks over member data:
/// `source::archive` unit tests check the offsets).
#[test]
fn bare_archive_paths_are_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let img = image(layers()).compressed(Compression::Gzip);
    let docker = tmp.path().join("d.tar");
    let oci = tmp.path().join("o.tar");
    img.write_docker_archive(&docker, "t").unwrap();
    img.write_oci_archive(&oci, "t").unwrap();
    for path in [&docker, &oci] {
        let report = json_of(&run(path.to_str().unwrap(), &["--no-cache"]));
        assert_eq!(report["image"]["content_bytes"], 40_000 + 9);
    }
    let d = json_of(&run(docker.to_str().unwrap(), &["--no-cache"]));
    assert!(
        d["image"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("docker-archive:")
    );
    let o = json_of(&run(oci.to_str().unwrap(), &["--no-cache"]));
    assert!(
        o["image"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("oci-archive:")
    );
}

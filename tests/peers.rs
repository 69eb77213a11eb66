//! Peer projects' own test images (`testdata/peers/`, see its README):
//! layerscope must read what they read, with the digests and sizes their
//! tests assert, computed here independently from the archives' members.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Read;

use layerscope::digest::Digest;
use serde_json::Value;

use crate::support::{analyze_json, layerscope, testdata};

fn ggcr(name: &str) -> String {
    testdata(&format!("peers/go-containerregistry/{name}"))
        .display()
        .to_string()
}

/// sha256 and size of every regular member of a tar, by name.
fn members(path: &str) -> HashMap<String, (String, u64)> {
    let mut out = HashMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name, (Digest::of(&data).to_string(), data.len() as u64));
    }
    out
}

fn run(reference: &str) -> (i32, String) {
    let out = layerscope()
        .args(["analyze", reference, "--no-cache", "--format", "json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every layer row names a member of the archive by its sha256 and size.
fn layers_are_members(r: &Value, path: &str) {
    let by_digest: HashMap<String, u64> = members(path).into_values().collect();
    for l in r["layers"].as_array().unwrap() {
        let d = l["digest"].as_str().unwrap();
        assert_eq!(
            l["uncompressed_bytes"].as_u64(),
            by_digest.get(d).copied(),
            "{l}"
        );
        assert_eq!(l["diff_id"], l["digest"], "uncompressed layers: {l}");
    }
}

#[test]
fn ggcr_test_image_1_has_one_layer_and_one_history_entry() {
    let path = ggcr("test_image_1.tar");
    let r = analyze_json(&format!("docker-archive:{path}"), &["--verify-diff-ids"]);
    assert_eq!(r["layers"].as_array().unwrap().len(), 1);
    assert_eq!(r["layers"][0]["created_by"], "bazel build ...");
    layers_are_members(&r, &path);
    let member = &members(&path)["555b1001d54ed229f56990845856f080b0707348b26b3aa85aaf58d5570cdee0/layer.tar"];
    assert_eq!(r["layers"][0]["digest"], member.0);
}

#[test]
fn ggcr_bundle_needs_a_tag_and_loads_each() {
    let path = ggcr("test_bundle.tar");
    let (code, err) = run(&format!("docker-archive:{path}"));
    assert_eq!(code, 3);
    assert!(
        err.contains("holds 2 images") && err.contains("test_image_1"),
        "{err}"
    );
    let m = members(&path);
    for (tag, layer) in [
        (
            "test_image_1",
            "555b1001d54ed229f56990845856f080b0707348b26b3aa85aaf58d5570cdee0",
        ),
        (
            "test_image_2",
            "8e17bd53a9cb6d38a0c7d21e8a0f943449f494aa0c3de2425a3dd9be8844a19b",
        ),
        (
            "test_image_1:latest",
            "555b1001d54ed229f56990845856f080b0707348b26b3aa85aaf58d5570cdee0",
        ),
        (
            "index.docker.io/library/test_image_1:latest",
            "555b1001d54ed229f56990845856f080b0707348b26b3aa85aaf58d5570cdee0",
        ),
    ] {
        let r = analyze_json(
            &format!("docker-archive:{path}:{tag}"),
            &["--verify-diff-ids"],
        );
        let member = &m[&format!("{layer}/layer.tar")];
        assert_eq!(r["layers"][0]["digest"], member.0, "{tag}");
        assert_eq!(r["layers"][0]["uncompressed_bytes"], member.1, "{tag}");
    }
}

#[test]
fn ggcr_docker_25_archive_validates() {
    let path = ggcr("hello-world-v25.tar");
    let r = analyze_json(&format!("docker-archive:{path}"), &["--verify-diff-ids"]);
    let layer = "blobs/sha256/12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43";
    let member = &members(&path)[layer];
    assert_eq!(r["layers"][0]["digest"], member.0);
    assert_eq!(r["layers"][0]["uncompressed_bytes"], member.1);
    // `docker save` stores the layer uncompressed: no compressed size.
    assert_eq!(r["layers"][0]["compressed_bytes"], Value::Null);
    assert_eq!(r["warnings"], Value::Array(Vec::new()));
}

#[test]
fn ggcr_linked_layers_resolve() {
    let path = ggcr("test_link.tar");
    let r = analyze_json(
        &format!("docker-archive:{path}:bazel/v1/tarball:test_image_3"),
        &["--verify-diff-ids"],
    );
    let want = "sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17";
    let layer = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["diff_id"] == want)
        .unwrap_or_else(|| panic!("no layer {want}: {r}"));
    assert!(layer["uncompressed_bytes"].as_u64().unwrap() > 0);
    layers_are_members(&r, &path);
}

#[test]
fn ggcr_null_manifest_is_an_error_and_no_manifest_reads_as_legacy() {
    let (code, err) = run(&format!("docker-archive:{}", ggcr("null_manifest.tar")));
    assert_eq!(code, 3, "{err}");
    let path = ggcr("no_manifest.tar");
    let r = analyze_json(&format!("docker-archive:{path}"), &[]);
    let member = &members(&path)["c47412cb682fcf4ae43f536a788069f78552f928a55eeb09ba1455e0f9a2306e/layer.tar"];
    assert_eq!(r["layers"].as_array().unwrap().len(), 1);
    assert_eq!(r["layers"][0]["digest"], member.0);
    assert_eq!(r["layers"][0]["uncompressed_bytes"], member.1);
}

fn cimage(name: &str) -> String {
    testdata(&format!("peers/containers-image/{name}"))
        .display()
        .to_string()
}

#[test]
fn containers_image_almost_empty_archive() {
    let path = cimage("almostempty.tar");
    let member = &members(&path)["c7b98db321d22702b8dd264fa7d58936951867854969a873d3dd20520eadca8f/layer.tar"];
    for reference in [
        format!("docker-archive:{path}"),
        format!("docker-archive:{path}:emptyimage:latest"),
        format!("docker-archive:{path}:@0"),
    ] {
        let r = analyze_json(&reference, &["--verify-diff-ids"]);
        assert_eq!(r["layers"].as_array().unwrap().len(), 1);
        assert_eq!(r["layers"][0]["digest"], member.0);
        assert_eq!(r["layers"][0]["uncompressed_bytes"], member.1);
    }
}

#[test]
fn containers_image_layout_with_seven_tags() {
    let dir = cimage("delete_image_multiple_images");
    let (code, err) = run(&format!("oci:{dir}"));
    assert_eq!(code, 3);
    assert!(err.contains("holds 7 images"), "one per tag: {err}");
    for tag in ["latest", "3.18.3", "3", "3.18", "3.17.5", "3.16.7", "1.0.0"] {
        assert!(err.contains(&format!("oci:{dir}:{tag}")), "{tag}: {err}");
    }
    // The manifest behind each tag and platform, as info.txt draws it.
    for (tag, platform, manifest) in [
        (
            "3.18",
            None,
            "93cbd11a4f41467a0409b975499ae711bc6f8222de38d9f1b5a4097583195ad5",
        ),
        (
            "3.17.5",
            None,
            "5b2aba4d3c27bc6493633d0ec446b25c8d0a5c9cfe99894bcdff0aee80813805",
        ),
        (
            "1.0.0",
            None,
            "0dc27f36a618c110ae851662c13283e9fbc1b5a5de003befc4bcefa5a05d2eef",
        ),
        (
            "latest",
            Some("linux/386"),
            "f6d60fd529b234d3e28837e15294d935f55da58ce57c4f9218cad38d0be82ce3",
        ),
        (
            "latest",
            Some("linux/amd64"),
            "93cbd11a4f41467a0409b975499ae711bc6f8222de38d9f1b5a4097583195ad5",
        ),
        (
            "3.16.7",
            Some("linux/386"),
            "be6036f9b6a4e120a04868c47f1b8674f58b2fe5e410cba9f585a13ca8946cf0",
        ),
        (
            "3.16.7",
            Some("linux/amd64"),
            "39c524417bb4228f9fcb0aef43a680b5fd6b9f3a1df2fd50509d047e47dad8be",
        ),
    ] {
        let mut args = vec!["--manifest-only"];
        if let Some(p) = platform {
            args.extend(["--platform", p]);
        }
        let r = analyze_json(&format!("oci:{dir}:{tag}"), &args);
        assert_eq!(
            r["image"]["manifest_digest"],
            format!("sha256:{manifest}"),
            "{tag} {platform:?}"
        );
    }
}

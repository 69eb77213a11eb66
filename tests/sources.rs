//! Every local source reads the same image to the same analysis
//! (conformance), and bad input fails with one line and exit code 3.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;

use layerscope::fixture::{
    Image, dir, file, image, layer, opaque, owned, sized_file, whiteout,
    write_multi_platform_oci_dir,
};
use layerscope::scan::Compression;
use serde_json::Value;

use crate::support::{analyze_json, layerscope};

fn sample() -> Image {
    let app: Vec<_> = (0..3)
        .map(|i| sized_file(format!("app/m{i}.py"), 10_000, 50 + i))
        .collect();
    let chowned = app.iter().cloned().map(|f| owned(f, 1000)).collect();
    image(vec![
        layer(vec![
            dir("usr/lib"),
            sized_file("usr/lib/libc.so.6", 120_000, 1),
            file("etc/hostname", "box\n"),
        ]),
        layer(vec![
            sized_file("tmp/build/big.o", 80_000, 2),
            sized_file("usr/lib/libz.so", 30_000, 3),
        ]),
        layer(vec![
            whiteout("tmp/build"),
            opaque("usr/lib"),
            sized_file("usr/lib/libz.so", 30_000, 3),
        ]),
        layer(app),
        layer(chowned),
    ])
}

/// Drops the fields that legitimately differ between transports (names,
/// blob digests and sizes, which depend on the compression chosen).
fn transport_independent(mut v: Value) -> Value {
    for key in [
        "reference",
        "manifest_digest",
        "compressed_bytes",
        "estimated_compressed_bytes",
    ] {
        v["image"].as_object_mut().unwrap().remove(key);
    }
    for l in v["layers"].as_array_mut().unwrap() {
        for key in [
            "digest",
            "media_type",
            "compressed_bytes",
            "estimated_compressed_bytes",
        ] {
            l.as_object_mut().unwrap().remove(key);
        }
    }
    for f in v["findings"].as_array_mut().unwrap() {
        f.as_object_mut().unwrap().remove("compressed_bytes");
    }
    v.as_object_mut().unwrap().remove("pull");
    // Whether a manifest and config are named by digest depends on the
    // transport (a classic docker archive names neither).
    v.as_object_mut().unwrap().remove("verification");
    v
}

fn write_all(img: &Image, dir: &Path) -> Vec<String> {
    img.write_docker_archive(&dir.join("classic.tar"), "t:1")
        .unwrap();
    img.write_docker_archive_oci(&dir.join("docker25.tar"), "t:1")
        .unwrap();
    img.write_oci_dir(&dir.join("layout"), "v1").unwrap();
    img.write_oci_archive(&dir.join("oci.tar"), "v1").unwrap();
    let p = |n: &str| dir.join(n).display().to_string();
    vec![
        format!("docker-archive:{}", p("classic.tar")),
        format!("docker-archive:{}", p("docker25.tar")),
        format!("oci:{}:v1", p("layout")),
        format!("oci-archive:{}", p("oci.tar")),
        p("classic.tar"),
        p("oci.tar"),
        p("layout"),
    ]
}

#[test]
fn every_source_gives_the_same_analysis() {
    let tmp = tempfile::tempdir().unwrap();
    let img = sample();
    let refs = write_all(&img, tmp.path());
    let first = transport_independent(analyze_json(&refs[0], &[]));
    // By construction: libc (120 000) + hostname (4) + big.o (80 000) +
    // libz twice (60 000) + app twice (60 000).
    assert_eq!(first["image"]["content_bytes"], 320_004);
    // big.o deleted, the first libz hidden by the opaque dir, libc too, the
    // app chowned.
    assert_eq!(
        first["image"]["shadowed_bytes"],
        80_000 + 30_000 + 120_000 + 30_000
    );
    assert_eq!(first["image"]["final_bytes"], 4 + 30_000 + 30_000);
    for r in &refs[1..] {
        assert_eq!(
            transport_independent(analyze_json(r, &[])),
            first,
            "{r} differs from {}",
            refs[0]
        );
    }
}

#[test]
fn zstd_and_uncompressed_layers_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let base = transport_independent(analyze_json(&write_all(&sample(), tmp.path())[2], &[]));
    for c in [Compression::Zstd, Compression::None] {
        let d = tmp.path().join(format!("{c:?}"));
        sample().compressed(c).write_oci_dir(&d, "v1").unwrap();
        let v = analyze_json(&format!("oci:{}", d.display()), &[]);
        let expected = sample()
            .layers
            .iter()
            .map(|l| l.blob(c).len() as u64)
            .sum::<u64>();
        assert_eq!(v["image"]["compressed_bytes"], expected);
        assert_eq!(transport_independent(v), base);
    }
    let classic = std::fs::read(tmp.path().join("classic.tar")).unwrap();
    let out = layerscope()
        .args(["analyze", "-", "--format", "json", "--no-cache"])
        .write_stdin(classic)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    assert_eq!(
        transport_independent(serde_json::from_slice(&out.stdout).unwrap()),
        base
    );
}

#[test]
fn platform_is_chosen_from_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let amd = image(vec![layer(vec![sized_file("amd", 1000, 1)])]).platform("linux/amd64");
    let v7 = image(vec![layer(vec![sized_file("armv7", 2000, 2)])]).platform("linux/arm/v7");
    let v6 = image(vec![layer(vec![sized_file("armv6", 3000, 3)])]).platform("linux/arm/v6");
    write_multi_platform_oci_dir(tmp.path(), "multi", &[amd, v6, v7]).unwrap();
    let r = format!("oci:{}", tmp.path().display());
    assert_eq!(
        analyze_json(&r, &["--platform", "linux/amd64"])["image"]["final_bytes"],
        1000
    );
    assert_eq!(
        analyze_json(&r, &["--platform", "linux/arm/v7"])["image"]["final_bytes"],
        2000
    );
    assert_eq!(
        analyze_json(&r, &["--platform", "linux/arm/v6"])["image"]["platform"],
        "linux/arm/v6"
    );
    let out = layerscope()
        .args(["analyze", &r, "--platform", "linux/s390x", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("linux/amd64, linux/arm/v6, linux/arm/v7"),
        "{err}"
    );
}

/// Runs analyze and returns (exit code, stderr).
fn fails(image: &str) -> (Option<i32>, String) {
    let run = crate::support::run(["analyze", image, "--no-cache"]);
    (Some(run.code), run.stderr)
}

fn assert_one_line_error(image: &str, needle: &str) {
    let (code, err) = fails(image);
    assert_eq!(code, Some(3), "{image}: {err}");
    // One error line; `hint:` lines may follow it.
    let lines = err.lines().filter(|l| !l.starts_with("hint: ")).count();
    assert_eq!(lines, 1, "{image}: not one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains(needle),
        "{image}: expected `{needle}` in: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_fails_with_one_line_and_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n).display().to_string();

    assert_one_line_error(
        &format!("docker-archive:{}", t("missing.tar")),
        "missing.tar",
    );

    std::fs::write(t("junk.tar"), b"this is not a tar file at all, just text\n").unwrap();
    assert_one_line_error(&format!("docker-archive:{}", t("junk.tar")), "junk.tar");

    // A real tar that is not an image.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_cksum();
    b.append_data(&mut h, "hello.txt", &b"hi\n"[..]).unwrap();
    std::fs::write(t("plain.tar"), b.into_inner().unwrap()).unwrap();
    assert_one_line_error(
        &format!("docker-archive:{}", t("plain.tar")),
        "not a `docker save` archive",
    );
    assert_one_line_error(&format!("oci-archive:{}", t("plain.tar")), "index.json");

    // A manifest naming a missing blob.
    let img = sample();
    img.write_oci_dir(&tmp.path().join("nolayer"), "v1")
        .unwrap();
    let layer_digest = layerscope::Digest::of(&img.layers[1].blob(Compression::Gzip));
    std::fs::remove_file(
        tmp.path()
            .join("nolayer/blobs/sha256")
            .join(layer_digest.hex()),
    )
    .unwrap();
    assert_one_line_error(&format!("oci:{}", t("nolayer")), layer_digest.as_str());
}

/// Replaces layer `index`'s blob in an OCI layout by `bytes` (keeping its name).
fn tamper(dir: &Path, img: &Image, index: usize, edit: impl Fn(&mut Vec<u8>)) -> String {
    let digest = layerscope::Digest::of(&img.layers[index].blob(Compression::Gzip));
    let path = dir.join("blobs/sha256").join(digest.hex());
    let mut bytes = std::fs::read(&path).unwrap();
    edit(&mut bytes);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    digest.to_string()
}

#[test]
fn corrupt_layers_fail_naming_the_layer() {
    let img = sample();
    type Case = (&'static str, fn(&mut Vec<u8>), &'static str);
    let cases: [Case; 3] = [
        ("truncated", |b| b.truncate(b.len() / 2), "gzip"),
        (
            "corrupt",
            |b| {
                let mid = b.len() / 2;
                for x in &mut b[mid..mid + 64] {
                    *x ^= 0x5a;
                }
            },
            "layer 1",
        ),
        (
            "appended",
            |b| b.extend_from_slice(b"\x1f\x8bjunk"),
            "layer 1",
        ),
    ];
    for (name, edit, needle) in cases {
        let tmp = tempfile::tempdir().unwrap();
        img.write_oci_dir(tmp.path(), "v1").unwrap();
        let digest = tamper(tmp.path(), &img, 1, edit);
        let r = format!("oci:{}", tmp.path().display());
        let (code, err) = fails(&r);
        assert_eq!(code, Some(3), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(
            err.contains(&digest) && err.contains(needle),
            "{name}: {err}"
        );
    }

    // Bytes that decompress fine but are not the blob the manifest names.
    let tmp = tempfile::tempdir().unwrap();
    img.write_oci_dir(tmp.path(), "v1").unwrap();
    let other = img.layers[1].blob(Compression::Zstd);
    tamper(tmp.path(), &img, 1, |b| *b = other.clone());
    // A local layout is trusted unless `--verify` (DESIGN.md "Verification").
    let r = format!("oci:{}", tmp.path().display());
    let out = layerscope()
        .args(["analyze", &r, "--no-cache", "--verify"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert!(err.contains("digest mismatch"), "{err}");
}

/// skopeo, an independent writer, converts our OCI layout into the archive
/// formats real users have; layerscope reads them to the same analysis.
#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn archives_written_by_skopeo_read_the_same() {
    if !crate::support::require_tool("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    sample().write_oci_dir(&layout, "v1").unwrap();
    let base = transport_independent(analyze_json(&format!("oci:{}:v1", layout.display()), &[]));
    let targets = [
        format!(
            "docker-archive:{}:sample:v1",
            tmp.path().join("skopeo-docker.tar").display()
        ),
        format!(
            "oci-archive:{}:v1",
            tmp.path().join("skopeo-oci.tar").display()
        ),
        format!("oci:{}:v2", tmp.path().join("skopeo-layout").display()),
    ];
    for target in &targets {
        let status = std::process::Command::new("skopeo")
            .args([
                "copy",
                "--quiet",
                &format!("oci:{}:v1", layout.display()),
                target,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "skopeo copy to {target}");
        let read_back = target.replace(":sample:v1", "");
        assert_eq!(
            transport_independent(analyze_json(&read_back, &[])),
            base,
            "{target}"
        );
    }
}

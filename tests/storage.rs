//! `containers-storage:`: podman's and buildah's store read without a daemon,
//! checked against skopeo reading the same store.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use crate::support::{analyze_json, layerscope, require_tool, run_ok};

/// A store under `dir` with a busybox base and an image built on it, by
/// `driver`. Returns the store flags for podman/buildah.
fn build_store(dir: &Path, driver: &str) -> Vec<String> {
    let root = dir.join("root");
    let runroot = dir.join("run");
    let flags = vec![
        format!("--root={}", root.display()),
        format!("--runroot={}", runroot.display()),
        format!("--storage-driver={driver}"),
    ];
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "dd", "rm", "ln", "printf", "chmod"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let tar = dir.join("rootfs.tar");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    );
    run_ok(
        Command::new("podman")
            .args(&flags)
            .args(["import", "-q"])
            .arg(&tar)
            .arg("localhost/ls-cs-base:1"),
    );
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    // Layer 1: 3,000 + 1,000 bytes and a hard link; layer 2 deletes the
    // first name of the link and the 3,000-byte file.
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/ls-cs-base:1\n\
         RUN dd if=/dev/zero of=/big.bin bs=1000 count=3 && dd if=/dev/zero of=/a bs=1000 count=1 && ln /a /b\n\
         RUN rm /big.bin /a\n",
    )
    .unwrap();
    run_ok(
        Command::new("buildah")
            .args(&flags)
            .args([
                "bud",
                "--layers",
                "--isolation",
                "chroot",
                "-q",
                "-t",
                "localhost/ls-cs:1",
            ])
            .arg(&ctx),
    );
    flags
}

fn store_ref(dir: &Path, driver: &str, name: &str) -> String {
    format!(
        "containers-storage:[{driver}@{}+{}]{name}",
        dir.join("root").display(),
        dir.join("run").display()
    )
}

fn check_driver(driver: &str) {
    if !(require_tool("buildah") && require_tool("podman") && require_tool("skopeo")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    build_store(dir.path(), driver);
    let ours = analyze_json(&store_ref(dir.path(), driver, "localhost/ls-cs:1"), &[]);
    // skopeo reads the same store into an archive: the same layers, byte
    // for byte.
    let archive = dir.path().join("out.tar");
    run_ok(
        Command::new("skopeo")
            .arg("copy")
            .arg(store_ref(dir.path(), driver, "localhost/ls-cs:1"))
            .arg(format!("docker-archive:{}:ls-cs:1", archive.display())),
    );
    let theirs = analyze_json(&format!("docker-archive:{}", archive.display()), &[]);
    let layers = |v: &serde_json::Value| {
        v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["diff_id"].clone(),
                    l["uncompressed_bytes"].clone(),
                    l["content_bytes"].clone(),
                    l["files"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(layers(&ours), layers(&theirs));
    assert_eq!(ours["layers"].as_array().unwrap().len(), 3);
    // The RUN layer holds 3,000 + 1,000 bytes (the hard link adds nothing).
    assert_eq!(ours["layers"][1]["content_bytes"], 4000);
    // /big.bin is deleted; /a's bytes live on under /b.
    assert_eq!(
        ours["image"]["shadowed_bytes"],
        theirs["image"]["shadowed_bytes"]
    );
    assert_eq!(ours["image"]["final_bytes"], theirs["image"]["final_bytes"]);
    // A short name finds the image as podman tags it (`localhost/...`).
    let short = analyze_json(&store_ref(dir.path(), driver, "ls-cs:1"), &[]);
    assert_eq!(layers(&short), layers(&ours));
    // A missing image is exit 3, naming it.
    let out = layerscope()
        .arg("analyze")
        .arg(store_ref(dir.path(), driver, "nope:1"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope:1"), "{err}");
    let _ = Command::new("buildah")
        .arg(format!("--root={}", dir.path().join("root").display()))
        .arg(format!("--runroot={}", dir.path().join("run").display()))
        .arg(format!("--storage-driver={driver}"))
        .args(["rmi", "-a", "-f"])
        .output();
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs buildah, podman and skopeo: cargo test --features tools"
)]
fn reads_a_vfs_store_as_skopeo_does() {
    check_driver("vfs");
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs buildah, podman and skopeo: cargo test --features tools"
)]
fn reads_an_overlay_store_as_skopeo_does() {
    check_driver("overlay");
}

//! Shared helpers of the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `layerscope` binary under test.
pub fn layerscope() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("layerscope").unwrap()
}

/// Whether an external tool (docker-registry, skopeo, buildah, podman) is
/// installed. Missing tools skip a test on a developer machine, but under
/// CI (`CI` set) a missing tool is a failure: real-server tests never skip there.
pub fn require_tool(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("`{name}` is required under CI (install it with .ci/run)");
        }
        eprintln!("skipping: `{name}` is not installed");
    }
    found
}

/// The repository's `testdata/` directory.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// Runs `layerscope analyze --format json` on `image` and parses the report.
pub fn analyze_json(image: &str, extra: &[&str]) -> serde_json::Value {
    let out = layerscope()
        .arg("analyze")
        .arg(image)
        .args(["--format", "json", "--no-cache"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "analyze {image} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub mod realbuild;
pub mod registry;

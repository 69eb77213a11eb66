//! Shared helpers of the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `layerscope` binary under test.
pub fn layerscope() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("layerscope").unwrap()
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Standard output parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// Asserts the run succeeded and returns its JSON.
    pub fn ok_json(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs the binary with `args` (and `cmd` prepared as the caller likes:
/// environment, working directory).
pub fn run_cmd(mut cmd: assert_cmd::Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts that a finished command succeeded, showing its standard error
/// when it did not.
pub fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs an outside tool (buildah, podman, skopeo, sh...), panicking with
/// its output when it fails; returns its standard output.
///
/// buildah's chroot runtime copies itself into a sealed memfd before each
/// `RUN`, and the seal now and then fails with "sealing memfd copy: Device
/// or resource busy" while another process holds a mapping; that one
/// transient failure is retried (twice at most), anything else fails the
/// test at once.
pub fn run_ok(cmd: &mut Command) -> String {
    let mut tries = 0;
    loop {
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && stderr.contains("sealing memfd copy") && tries < 2 {
            tries += 1;
            eprintln!("retrying {cmd:?} after buildah's transient memfd failure");
            std::thread::sleep(std::time::Duration::from_secs(1));
            continue;
        }
        assert!(
            out.status.success(),
            "{cmd:?} failed:\n{}{stderr}",
            String::from_utf8_lossy(&out.stdout),
        );
        return String::from_utf8_lossy(&out.stdout).into_owned();
    }
}

/// Runs `layerscope ARGS...`.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = layerscope();
    cmd.args(args);
    run_cmd(cmd)
}

/// Whether an external tool (docker-registry, skopeo, buildah, podman) is
/// installed. Tests that need one are `#[cfg_attr(not(feature = "tools"),
/// ignore = ...)]`: outside `cargo test --features tools` (which `.ci/run`
/// uses) they show as ignored, never as passed. When they do run, a missing
/// tool fails them.
pub fn require_tool(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is not installed: tests that need it run with `--features tools` (install it as .ci/run does)"
    );
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
    let mut args = vec!["analyze", image, "--format", "json", "--no-cache"];
    args.extend_from_slice(extra);
    run(args).ok_json()
}

pub mod realbuild;
pub mod registry;
pub mod tmux;

/// `(data-key, data-bytes, text)` of every number in the DOM (with
/// `counts`, the `data-count` ones too).
pub fn dom_numbers(dom: &str, counts: bool) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    for chunk in dom.split("<span").skip(1) {
        let Some(end) = chunk.find('>') else { continue };
        let attrs = &chunk[..end];
        let attr = |name: &str| {
            let start = attrs.find(&format!("{name}=\""))? + name.len() + 2;
            Some(attrs[start..].split('"').next()?.to_owned())
        };
        if let Some(key) = attr("data-key")
            && let Some(value) =
                attr("data-bytes").or_else(|| attr("data-count").filter(|_| counts))
        {
            let text = chunk[end + 1..].split('<').next().unwrap_or("").to_owned();
            out.push((key, value.parse().unwrap(), text));
        }
    }
    out
}

/// Deterministic incompressible bytes (xorshift64*).
pub fn noise(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(size);
    out
}

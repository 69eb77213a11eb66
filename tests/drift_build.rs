//! Two real builds of one Dockerfile against a local wheel index that
//! gains a newer version of a transitive dependency between them: `diff`
//! names exactly that distribution and its layer; `optimize --apply pin`'s
//! rewrite, built against the newer index, installs exactly the original
//! versions (read with `importlib.metadata` inside the image).
//!
//! Needs buildah, podman, debootstrap and the Debian mirror:
//! `cargo test --features tools,realbuild drift_build`.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::layerscope;
use crate::support::realbuild::{BASE, run_in};
use crate::support::run_ok;

const PREFIX: &str = "localhost/wt-h20-drift";

/// Writes a pure-Python wheel `name-version` requiring `requires`.
fn wheel(dir: &Path, name: &str, version: &str, requires: &[&str]) {
    let script = r#"
import base64, hashlib, sys, zipfile
d, name, version = sys.argv[1:4]
requires = sys.argv[4:]
di = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"VERSION = {version!r}\n",
    f"{di}/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires)),
    f"{di}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for p, t in files.items():
    h = base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b"=").decode()
    record += f"{p},sha256={h},{len(t.encode())}\n"
record += f"{di}/RECORD,,\n"
files[f"{di}/RECORD"] = record
with zipfile.ZipFile(f"{d}/{name}-{version}-py3-none-any.whl", "w") as z:
    for p, t in files.items():
        z.writestr(zipfile.ZipInfo(p, (2020, 1, 1, 0, 0, 0)), t)
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .args([name, version])
        .args(requires)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A wheel index on 127.0.0.1 serving `wheels`, its pip.conf in `conf`.
struct Index(Child);

impl Index {
    fn start(wheels: &Path, conf: &Path) -> Index {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .arg(repo.join("scripts/wheel-index.py"))
            .arg("--until-stdin-closes")
            .arg(wheels)
            .arg(conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .unwrap();
        assert!(port.trim().parse::<u16>().is_ok(), "no index: {port:?}");
        Index(child)
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

fn build(context: &Path, dockerfile: &str, tag: &str, conf: &Path, no_cache: bool) {
    let mut cmd = Command::new("buildah");
    cmd.args(["bud", "--layers", "--isolation", "chroot", "-v"])
        .arg(format!(
            "{}:/etc/pip.conf:ro",
            conf.join("pip.conf").display()
        ))
        .arg("-f")
        .arg(context.join(dockerfile))
        .args(["-t", tag]);
    if no_cache {
        cmd.arg("--no-cache");
    }
    run_ok(cmd.arg(context));
}

fn versions(tag: &str) -> String {
    run_in(
        tag,
        &[
            "python3",
            "-c",
            "import importlib.metadata as m; print(m.version('alpha'), m.version('beta'))",
        ],
    )
    .unwrap_or_else(|e| panic!("{tag}: {e}"))
    .trim()
    .to_owned()
}

const DOCKERFILE: &str = "FROM localhost/layerscope-bookworm:min
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /app/
RUN pip install --break-system-packages -r /app/requirements.txt
";

#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds a Debian image from the network: cargo test --features tools,realbuild"
)]
fn two_builds_drift_and_the_pinned_rewrite_rebuilds_the_original_versions() {
    for tool in ["buildah", "podman", "debootstrap", "python3"] {
        assert!(crate::support::require_tool(tool), "{tool}");
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    run_ok(Command::new(repo.join("scripts/make-debian-base.sh")).arg(BASE));
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (old_wheels, new_wheels) = (w.join("wheels-old"), w.join("wheels-new"));
    for d in [&old_wheels, &new_wheels] {
        std::fs::create_dir_all(d).unwrap();
        wheel(d, "alpha", "1.0", &["beta>=1.0"]);
        wheel(d, "beta", "1.0", &[]);
    }
    wheel(&new_wheels, "beta", "1.1", &[]);
    let ctx = w.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(ctx.join("requirements.txt"), "alpha==1.0\n").unwrap();
    let (old_tag, new_tag, pin_tag) = (
        format!("{PREFIX}:old"),
        format!("{PREFIX}:new"),
        format!("{PREFIX}:pinned"),
    );

    let old_conf = w.join("conf-old");
    let index = Index::start(&old_wheels, &old_conf);
    build(&ctx, "Dockerfile", &old_tag, &old_conf, true);
    drop(index);
    let new_conf = w.join("conf-new");
    let _index = Index::start(&new_wheels, &new_conf);
    build(&ctx, "Dockerfile", &new_tag, &new_conf, true);
    assert_eq!(versions(&old_tag), "1.0 1.0");
    assert_eq!(versions(&new_tag), "1.0 1.1");

    let storage = |t: &str| format!("containers-storage:{t}");
    let out = layerscope()
        .args(["diff", "--no-cache", "--format", "json"])
        .args([storage(&old_tag), storage(&new_tag)])
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let upgraded: Vec<(&str, &str, &str)> = d["distributions"]["upgraded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap(),
                x["old_version"].as_str().unwrap(),
                x["new_version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        upgraded,
        [("beta", "1.0", "1.1")],
        "{:#}",
        d["distributions"]
    );
    let drifted: Vec<(u64, String)> = d["layers"]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| {
            l["distributions"].as_array().unwrap().iter().map(|x| {
                (
                    l["index"].as_u64().unwrap(),
                    x["name"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    // The base is layer 0; apt, COPY, pip: 1, 2, 3.
    assert_eq!(
        drifted,
        [(3, "beta".to_owned())],
        "{:#}",
        d["layers"]["drift"]
    );
    eprintln!("drift: {:#}", d["layers"]["drift"]);

    // The pin rewrite from the old image, built against the newer index.
    let out = layerscope()
        .current_dir(&ctx)
        .args(["optimize", "--no-cache", &storage(&old_tag)])
        .args(["--dockerfile", "Dockerfile", "--apply", "pin"])
        .args(["--write", "Dockerfile.pinned"])
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let constraints = std::fs::read_to_string(ctx.join("constraints.txt")).unwrap();
    assert!(
        constraints.contains("\nalpha==1.0\n") && constraints.contains("\nbeta==1.0\n"),
        "{constraints}"
    );
    eprintln!(
        "pinned:\n{}\n{constraints}",
        std::fs::read_to_string(ctx.join("Dockerfile.pinned")).unwrap()
    );
    build(&ctx, "Dockerfile.pinned", &pin_tag, &new_conf, false);
    assert_eq!(versions(&pin_tag), "1.0 1.0");
    for t in [&old_tag, &new_tag, &pin_tag] {
        let _ = Command::new("buildah").args(["rmi", t]).output();
    }
}

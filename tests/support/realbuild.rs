//! Real image builds for the rewrite tests (`tests/rewrite_build.rs`): the
//! shared Debian base (`scripts/make-debian-base.sh`), the local wheel index
//! (`scripts/fetch-wheels.sh`, `scripts/wheel-index.py`), and thin wrappers
//! over buildah, skopeo and podman that return what a comparison needs.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::run_ok;

/// The base image every corpus Dockerfile starts `FROM`.
pub const BASE: &str = "localhost/layerscope-bookworm:min";

/// What every real build shares: a work folder, the pip/uv configuration
/// that points at the wheel index, and the index itself (it ends when this
/// process does, because it watches the pipe held here).
pub struct BuildEnv {
    /// Scratch space under the target directory.
    pub work: PathBuf,
    /// Holds `pip.conf` and `uv.toml`.
    pub conf: PathBuf,
    _index: Mutex<ChildStdin>,
}

/// The shared build environment, made once per test run; `None` (after a
/// "skipping" line) when a tool is missing outside CI.
pub fn build_env() -> Option<&'static BuildEnv> {
    static ENV: OnceLock<Option<BuildEnv>> = OnceLock::new();
    static SETUP: Mutex<()> = Mutex::new(());
    // One test sets up; the others wait for it rather than race.
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    ENV.get_or_init(|| {
        for tool in ["buildah", "podman", "skopeo", "debootstrap", "python3"] {
            if !super::require_tool(tool) {
                return None;
            }
        }
        Some(setup())
    })
    .as_ref()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn setup() -> BuildEnv {
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rewrite-build");
    std::fs::create_dir_all(&work).unwrap();
    let started = Instant::now();
    run_ok(Command::new(repo().join("scripts/make-debian-base.sh")).arg(BASE));
    eprintln!("debian base ready in {:.0?}", started.elapsed());
    let wheels = work.join("wheels");
    // The bench set: the ml-naive case needs scipy, pandas and scikit-learn.
    run_ok(
        Command::new(repo().join("scripts/fetch-wheels.sh"))
            .env("SET", "bench")
            .arg(&wheels),
    );
    let conf = work.join("conf");
    // Never waited for: the index lives as long as this test process and
    // exits when the pipe held in `BuildEnv` closes with it.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new("python3")
        .arg(repo().join("scripts/wheel-index.py"))
        .arg("--until-stdin-closes")
        .arg(&wheels)
        .arg(&conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    assert!(
        port.trim().parse::<u16>().is_ok(),
        "wheel-index.py did not start: {port:?}"
    );
    BuildEnv {
        work,
        conf,
        _index: Mutex::new(child.stdin.take().unwrap()),
    }
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl BuildEnv {
    /// `buildah bud --layers` of `dockerfile` in `context`, tagged `tag`, its
    /// log in `log`; the time it took, or the failure with the log's tail.
    pub fn build(
        &self,
        context: &Path,
        dockerfile: &Path,
        tag: &str,
        log: &Path,
    ) -> Result<Duration, String> {
        let started = Instant::now();
        let file = std::fs::File::create(log).unwrap();
        let status = Command::new("buildah")
            .args(["bud", "--layers", "--isolation", "chroot", "-v"])
            .arg(format!(
                "{}:/etc/pip.conf:ro",
                self.conf.join("pip.conf").display()
            ))
            .arg("-v")
            .arg(format!(
                "{}:/etc/uv/uv.toml:ro",
                self.conf.join("uv.toml").display()
            ))
            .arg("-f")
            .arg(dockerfile)
            .arg("-t")
            .arg(tag)
            .arg(context)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap();
        if status.success() {
            Ok(started.elapsed())
        } else {
            Err(format!(
                "`buildah bud` of {} failed ({status}); last lines of {}:\n{}",
                dockerfile.display(),
                log.display(),
                tail(log, 15)
            ))
        }
    }

    /// Copies `tag` into an OCI layout (gzip layers, as a registry serves
    /// them) under `dir`; returns the `oci:` reference.
    pub fn export(&self, tag: &str, dir: &Path) -> String {
        let _ = std::fs::remove_dir_all(dir);
        let reference = format!("oci:{}:img", dir.display());
        run_ok(
            Command::new("skopeo")
                .args(["copy", "-q"])
                .arg(format!("containers-storage:{tag}"))
                .arg(&reference),
        );
        reference
    }
}

/// The runtime settings of an image (`config` of its image config).
pub fn runtime_config(tag: &str) -> serde_json::Value {
    let text = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--config"])
            .arg(format!("containers-storage:{tag}")),
    );
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["config"].clone()
}

/// One entry of an image's final filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `f`ile, `d`irectory, `l`ink or `o`ther.
    pub kind: char,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// sha256 of a file, the target of a link, empty otherwise.
    pub content: String,
}

/// Every entry under `roots` in the final filesystem of `tag`, read through
/// `podman image mount` (an independent view: the storage driver applied the
/// layers, not layerscope).
pub fn final_files(tag: &str, roots: &[String]) -> BTreeMap<String, Entry> {
    static MOUNTS: Mutex<()> = Mutex::new(());
    let _guard = MOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let mount = run_ok(Command::new("podman").args(["image", "mount", tag]));
    let mount = PathBuf::from(mount.trim());
    let mut out = BTreeMap::new();
    for root in roots {
        walk(&mount, Path::new(root.trim_start_matches('/')), &mut out);
    }
    let _ = Command::new("podman")
        .args(["image", "unmount", tag])
        .output();
    out
}

fn walk(mount: &Path, rel: &Path, out: &mut BTreeMap<String, Entry>) {
    let path = mount.join(rel);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return;
    };
    let kind = if meta.is_file() {
        'f'
    } else if meta.is_dir() {
        'd'
    } else if meta.file_type().is_symlink() {
        'l'
    } else {
        'o'
    };
    let content = match kind {
        'f' => sha256_file(&path),
        'l' => std::fs::read_link(&path)
            .map(|t| t.display().to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    out.insert(
        format!("/{}", rel.display()),
        Entry {
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            content,
        },
    );
    if kind == 'd' {
        let mut names: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for name in names {
            walk(mount, &rel.join(name), out);
        }
    }
}

fn sha256_file(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex::encode(hasher.finalize())
}

/// Runs `args` in a container of image `tag` with buildah's chroot
/// isolation, as the builds run (podman's runtime cannot set rlimits in
/// every sandbox): its standard output, or `Err` with the last lines of
/// its standard error.
pub fn run_in(tag: &str, args: &[&str]) -> Result<String, String> {
    let from = Command::new("buildah")
        .args(["from", "--pull-never", tag])
        .output()
        .map_err(|e| e.to_string())?;
    let id = String::from_utf8_lossy(&from.stdout).trim().to_owned();
    if !from.status.success() || id.is_empty() {
        return Err(String::from_utf8_lossy(&from.stderr).into_owned());
    }
    let ran = Command::new("buildah")
        .args(["run", "--isolation", "chroot", &id, "--"])
        .args(args)
        .output();
    let _ = Command::new("buildah").args(["rm", &id]).output();
    let ran = ran.map_err(|e| e.to_string())?;
    if ran.status.success() {
        return Ok(String::from_utf8_lossy(&ran.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&ran.stderr);
    let lines: Vec<&str> = err.lines().collect();
    Err(lines[lines.len().saturating_sub(3)..].join(" | "))
}

//! `docker-daemon:NAME` against podman's Docker-compatible API socket,
//! started by the test with its own throwaway storage.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use layerscope::fixture::{file, image, layer, owned, sized_file, whiteout};
use serde_json::Value;

use crate::support::{layerscope, require_tool};

/// A `podman system service` on a socket in a temp dir, stopped on drop.
struct Podman {
    dir: tempfile::TempDir,
    service: Child,
}

/// Global podman flags that keep all state inside `dir`.
fn podman_args(dir: &Path) -> Vec<String> {
    vec![
        format!("--root={}", dir.join("root").display()),
        format!("--runroot={}", dir.join("run").display()),
        "--storage-driver=vfs".into(),
        "--cgroup-manager=cgroupfs".into(),
        "--events-backend=file".into(),
        format!("--tmpdir={}", dir.join("tmp").display()),
    ]
}

impl Podman {
    fn args(&self) -> Vec<String> {
        podman_args(self.dir.path())
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("api.sock")
    }

    fn start() -> Podman {
        let dir = tempfile::tempdir().unwrap();
        let service = Command::new("podman")
            .args(podman_args(dir.path()))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", dir.path().join("api.sock").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let podman = Podman { dir, service };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !podman.socket().exists() {
            assert!(
                Instant::now() < deadline,
                "podman system service did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        podman
    }

    fn load(&self, archive: &Path) {
        let out = Command::new("podman")
            .args(self.args())
            .args(["load", "-q", "-i"])
            .arg(archive)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman load: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.service.kill();
        let _ = self.service.wait();
    }
}

fn analyze(image: &str, docker_host: &str) -> std::process::Output {
    layerscope()
        .arg("analyze")
        .arg(image)
        .args(["--format", "json", "--no-cache"])
        .env("DOCKER_HOST", docker_host)
        .output()
        .unwrap()
}

fn json(out: &std::process::Output) -> Value {
    crate::support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
    .ok_json()
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn daemon_image_equals_the_archive() {
    if !require_tool("podman") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("img.tar");
    // 50 000 bytes of pip cache deleted later, a 20 000-byte file chowned.
    image(vec![
        layer(vec![
            sized_file("usr/lib/libz.so.1", 60_000, 1),
            sized_file("app/data.bin", 20_000, 2),
        ]),
        layer(vec![
            sized_file("root/.cache/pip/http/blob", 50_000, 3),
            file("app/main.py", b"print('hi')\n"),
        ]),
        layer(vec![
            whiteout("root/.cache"),
            owned(sized_file("app/data.bin", 20_000, 2), 1000),
        ]),
    ])
    .write_docker_archive(&archive, "localhost/layerscope-test/daemon:1")
    .unwrap();

    let podman = Podman::start();
    podman.load(&archive);
    let daemon = json(&analyze(
        "docker-daemon:localhost/layerscope-test/daemon:1",
        &podman.docker_host(),
    ));
    let direct = json(&analyze(
        &format!("docker-archive:{}", archive.display()),
        "unix:///nonexistent",
    ));

    assert_eq!(
        daemon["image"]["content_bytes"],
        60_000 + 20_000 + 50_000 + 12 + 20_000
    );
    assert_eq!(daemon["image"]["final_bytes"], 60_000 + 20_000 + 12);
    assert_eq!(daemon["image"]["shadowed_bytes"], 50_000 + 20_000);
    for field in [
        "compressed_bytes",
        "uncompressed_bytes",
        "content_bytes",
        "final_bytes",
        "shadowed_bytes",
    ] {
        assert_eq!(
            daemon["image"][field], direct["image"][field],
            "image.{field}"
        );
    }
    let diff_ids = |r: &Value| {
        r["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["diff_id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(diff_ids(&daemon), diff_ids(&direct));
    assert_eq!(daemon["findings"], direct["findings"]);

    // A name the engine does not have: not found, exit 3.
    let out = analyze(
        "docker-daemon:localhost/layerscope-test/absent:1",
        &podman.docker_host(),
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`docker-daemon:localhost/layerscope-test/absent:1` not found"),
        "{stderr}"
    );
}

#[test]
fn missing_socket_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("no.sock");
    let out = analyze(
        "docker-daemon:app:1",
        &format!("unix://{}", socket.display()),
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("unix://{}", socket.display())),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn tcp_docker_host_is_refused_clearly() {
    let out = analyze("docker-daemon:app:1", "tcp://127.0.0.1:2375");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcp://127.0.0.1:2375"));
}

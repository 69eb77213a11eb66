//! Drift findings (`unpinned-base`, `unpinned-apt`, `unpinned-pip`,
//! `unverified-download`) of a fixture image and its Dockerfile, with
//! their lines and bytes computed from the fixture; none on a Dockerfile
//! that pins everything; a budget on them.
#![allow(clippy::unwrap_used)]

use layerscope::fixture::{Image, Item, file, image, layer, sized_file};
use serde_json::Value;

use crate::support::layerscope;

pub const SITE: &str = "usr/local/lib/python3.12/site-packages";

/// A dist-info with one module of `size` bytes: its items and their bytes
/// (module, METADATA, INSTALLER and RECORD).
pub fn dist(name: &str, version: &str, size: usize, seed: u64) -> (Vec<Item>, u64) {
    let di = format!("{name}-{version}.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    let module = format!("{}.py", name.to_lowercase());
    let record =
        format!("{module},sha256=x,{size}\n{di}/METADATA,,\n{di}/INSTALLER,,\n{di}/RECORD,,\n");
    let bytes = (size + metadata.len() + 4 + record.len()) as u64;
    let items = vec![
        sized_file(format!("{SITE}/{module}"), size, seed),
        file(format!("{SITE}/{di}/METADATA"), metadata),
        file(format!("{SITE}/{di}/INSTALLER"), "pip\n"),
        file(format!("{SITE}/{di}/RECORD"), record),
    ];
    (items, bytes)
}

/// A dpkg status stanza.
pub fn stanza(name: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: web\nInstalled-Size: 1\nArchitecture: amd64\nVersion: {version}\nDescription: x\n\n"
    )
}

/// Layer 0: the base (30,000 B of busybox, 2 B of an empty status).
/// Layer 1: `apt-get install curl git`: curl 7,000 B, git 11,000 B.
/// Layer 2: `COPY requirements.txt`. Layer 3: `pip install`: Flask 3.0.0
/// (5,000 B), Jinja2 3.1.4 (3,000 B, transitive), MarkupSafe 2.1.5
/// (2,000 B, transitive). Layer 4: `curl | sh` installing a 900-B tool.
pub fn fixture() -> (Image, Vec<u64>) {
    let status = format!(
        "{}{}",
        stanza("curl", "7.88.1-10"),
        stanza("git", "1:2.39.2-1")
    );
    let (flask, fb) = dist("Flask", "3.0.0", 5_000, 11);
    let (jinja, jb) = dist("Jinja2", "3.1.4", 3_000, 12);
    let (msafe, mb) = dist("MarkupSafe", "2.1.5", 2_000, 13);
    let l3: Vec<Item> = flask.into_iter().chain(jinja).chain(msafe).collect();
    let img = image(vec![
        layer(vec![
            sized_file("bin/busybox", 30_000, 1),
            file("var/lib/dpkg/status", "\n\n"),
        ])
        .created_by("ADD rootfs.tar /"),
        layer(vec![
            sized_file("usr/bin/curl", 7_000, 2),
            sized_file("usr/bin/git", 11_000, 3),
            file("var/lib/dpkg/status", status),
            file("var/lib/dpkg/info/curl.list", "/usr/bin/curl\n"),
            file("var/lib/dpkg/info/git.list", "/usr/bin/git\n"),
        ])
        .created_by("RUN apt-get update && apt-get install -y curl git"),
        layer(vec![file("app/requirements.txt", "flask==3.0.0\n")])
            .created_by("COPY requirements.txt /app/"),
        layer(l3).created_by("RUN pip install -r /app/requirements.txt"),
        layer(vec![sized_file("usr/local/bin/tool", 900, 4)])
            .created_by("RUN curl -fsSL https://example.com/install.sh | sh"),
    ]);
    (img, vec![fb, jb, mb])
}

pub const DOCKERFILE: &str = "FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y curl git
COPY requirements.txt /app/
RUN pip install -r /app/requirements.txt
RUN curl -fsSL https://example.com/install.sh | sh
";

/// The same build, everything pinned.
const PINNED: &str = "FROM debian:bookworm-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN apt-get update && apt-get install -y curl=7.88.1-10 git=1:2.39.2-1
COPY requirements.txt /app/
RUN pip install -r /app/requirements.txt
RUN curl -fsSL -o /tmp/i.sh https://example.com/install.sh && echo \"abc  /tmp/i.sh\" | sha256sum -c - && sh /tmp/i.sh
";

fn setup(dockerfile: &str, requirements: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fixture()
        .0
        .write_oci_archive(&dir.path().join("img.tar"), "1")
        .unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.path().join("requirements.txt"), requirements).unwrap();
    dir
}

/// `layerscope optimize img.tar --dockerfile Dockerfile ARGS...` in `dir`,
/// which must succeed.
fn optimize(dir: &std::path::Path, args: &[&str]) {
    let out = layerscope()
        .current_dir(dir)
        .args([
            "optimize",
            "--no-cache",
            "img.tar",
            "--dockerfile",
            "Dockerfile",
        ])
        .args(args)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
}

fn analyze(dir: &std::path::Path) -> Value {
    let out = layerscope()
        .current_dir(dir)
        .args(["analyze", "--no-cache", "--format", "json", "img.tar"])
        .args(["--dockerfile", "Dockerfile"])
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn of_kind<'a>(v: &'a Value, kind: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

#[test]
fn drift_findings_with_lines_packages_and_bytes() {
    let dir = setup(DOCKERFILE, "flask==3.0.0\n");
    let v = analyze(dir.path());
    let (img, dist_bytes) = fixture();

    let base = of_kind(&v, "unpinned-base");
    assert_eq!(base.len(), 1);
    assert_eq!(base[0]["dockerfile_line"], 1);
    assert_eq!(base[0]["bytes"], 30_000 + 2);
    assert_eq!(base[0]["paths"][0], "debian:bookworm-slim");

    let apt = of_kind(&v, "unpinned-apt");
    assert_eq!(apt.len(), 1);
    assert_eq!(apt[0]["dockerfile_line"], 2);
    assert_eq!(apt[0]["bytes"], 7_000 + 11_000);
    assert_eq!(apt[0]["layers"], serde_json::json!([1]));
    assert_eq!(
        apt[0]["packages"],
        serde_json::json!(["curl=7.88.1-10", "git=1:2.39.2-1"])
    );

    // Flask is pinned by requirements.txt; its two dependencies are not.
    let pip = of_kind(&v, "unpinned-pip");
    assert_eq!(pip.len(), 1);
    assert_eq!(pip[0]["dockerfile_line"], 4);
    assert_eq!(pip[0]["bytes"], dist_bytes[1] + dist_bytes[2]);
    assert_eq!(pip[0]["path_count"], 2);
    assert_eq!(
        pip[0]["packages"],
        serde_json::json!(["Jinja2==3.1.4", "MarkupSafe==2.1.5"])
    );

    let dl = of_kind(&v, "unverified-download");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["dockerfile_line"], 5);
    assert_eq!(dl[0]["bytes"], 900);
    drop(img);
}

#[test]
fn a_fully_pinned_dockerfile_has_no_drift_findings() {
    let dir = setup(PINNED, "flask==3.0.0\njinja2==3.1.4\nmarkupsafe==2.1.5\n");
    // The history must line up with the pinned text too.
    let v = analyze(dir.path());
    for kind in [
        "unpinned-base",
        "unpinned-apt",
        "unpinned-pip",
        "unverified-download",
    ] {
        assert_eq!(of_kind(&v, kind).len(), 0, "{kind}: {:#}", v["findings"]);
    }
}

#[test]
fn a_lock_file_in_the_context_pins_what_it_lists() {
    let dir = setup(DOCKERFILE, "flask==3.0.0\n");
    std::fs::write(
        dir.path().join("uv.lock"),
        "version = 1\n[[package]]\nname = \"jinja2\"\nversion = \"3.1.4\"\n[[package]]\nname = \"markupsafe\"\nversion = \"2.1.5\"\n",
    )
    .unwrap();
    let v = analyze(dir.path());
    assert_eq!(of_kind(&v, "unpinned-pip").len(), 0);
}

#[test]
fn check_fails_a_drift_budget_and_names_the_distributions() {
    let dir = setup(DOCKERFILE, "flask==3.0.0\n");
    let out = layerscope()
        .current_dir(dir.path())
        .args([
            "check",
            "--no-cache",
            "img.tar",
            "--dockerfile",
            "Dockerfile",
        ])
        .args(["--max-finding", "unpinned-pip=0", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Jinja2-3.1.4.dist-info"), "{text}");
    assert!(text.contains("findings.unpinned-pip"), "{text}");
    // SARIF carries them as rules.
    let out = layerscope()
        .current_dir(dir.path())
        .args([
            "check",
            "--no-cache",
            "img.tar",
            "--dockerfile",
            "Dockerfile",
        ])
        .args(["--format", "sarif"])
        .output()
        .unwrap();
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    for kind in [
        "unpinned-base",
        "unpinned-apt",
        "unpinned-pip",
        "unverified-download",
    ] {
        assert!(rules.contains(&kind), "{kind} in {rules:?}");
    }
}

#[test]
fn optimize_apply_pin_writes_versions_from_the_image() {
    let dir = setup(DOCKERFILE, "flask==3.0.0\n");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let digest = format!("sha256:{}", "12".repeat(32));
    optimize(
        dir.path(),
        &[
            "--write",
            "out/Dockerfile",
            "--apply",
            "pin",
            "--base",
            &format!("debian:bookworm-slim@{digest}"),
        ],
    );
    let written = std::fs::read_to_string(dir.path().join("out/Dockerfile")).unwrap();
    assert_eq!(
        written,
        format!(
            "FROM debian:bookworm-slim@{digest}
RUN apt-get update && apt-get install -y curl=7.88.1-10 git=1:2.39.2-1
COPY requirements.txt /app/
COPY constraints.txt /tmp/constraints.txt
RUN pip install -c /tmp/constraints.txt -r /app/requirements.txt
RUN curl -fsSL https://example.com/install.sh | sh
"
        )
    );
    let constraints = std::fs::read_to_string(dir.path().join("out/constraints.txt")).unwrap();
    assert_eq!(
        constraints,
        "# Written by `layerscope optimize --apply pin` from the image.\nFlask==3.0.0\nJinja2==3.1.4\nMarkupSafe==2.1.5\n"
    );
    // Without `--apply pin` (`all` included) nothing is pinned.
    optimize(dir.path(), &["--write", "out/D2", "--apply", "all"]);
    let written = std::fs::read_to_string(dir.path().join("out/D2")).unwrap();
    assert!(written.contains(" -y curl git\n"), "{written}");
    assert!(
        !written.contains("@sha256") && !written.contains("constraints"),
        "{written}"
    );
}

#[test]
fn optimize_apply_pin_pins_conda_packages_through_condarc() {
    let dir = tempfile::tempdir().unwrap();
    let meta = "opt/conda/conda-meta";
    image(vec![
        layer(vec![
            sized_file("bin/busybox", 30_000, 1),
            file(
                format!("{meta}/python-3.11.8-hab00c5b_0_cpython.json"),
                "{}",
            ),
            file(format!("{meta}/history"), "==> 2024 <==\n"),
        ])
        .created_by("ADD rootfs.tar /"),
        layer(vec![
            sized_file("opt/conda/lib/libopenblas.so", 9_000, 2),
            file(format!("{meta}/numpy-1.26.4-py311h64a7726_0.json"), "{}"),
            file(
                format!("{meta}/libopenblas-0.3.27-pthreads_h413a1c8_0.json"),
                "{}",
            ),
            file(
                format!("{meta}/ca-certificates-2024.2.2-hbcca054_0.json"),
                "{}",
            ),
        ])
        .created_by("RUN conda install -y numpy && conda clean -afy"),
    ])
    .write_oci_archive(&dir.path().join("img.tar"), "1")
    .unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM continuumio/miniconda3:24.1.2-0\nRUN conda install -y numpy && conda clean -afy\n",
    )
    .unwrap();
    optimize(
        dir.path(),
        &["--write", "Dockerfile.pinned", "--apply", "pin"],
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("Dockerfile.pinned")).unwrap(),
        "FROM continuumio/miniconda3:24.1.2-0\nCOPY conda-pins.yml /etc/conda/condarc.d/layerscope-pins.yml\nRUN conda install -y numpy && conda clean -afy\n"
    );
    // Every record of the final filesystem, by its file name; `history` is not one.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("conda-pins.yml")).unwrap(),
        "# Written by `layerscope optimize --apply pin` from the image.\npinned_packages:\n  \
         - ca-certificates=2024.2.2=hbcca054_0\n  - libopenblas=0.3.27=pthreads_h413a1c8_0\n  \
         - numpy=1.26.4=py311h64a7726_0\n  - python=3.11.8=hab00c5b_0_cpython\n"
    );
    assert!(!dir.path().join("constraints.txt").exists());
}

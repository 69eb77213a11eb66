//! Dockerfiles: the parser over a corpus of real-world shapes, the mapping
//! of instructions to layers (history strings of BuildKit and the classic
//! builder, real buildah images), the advice, and the rewrite built for real
//! with buildah (`buildah`), each rewrite kind on fixture images
//! (`rewrites`).
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod buildah;
mod estimates;
mod multistage;
mod rewrites;

use std::path::Path;

use layerscope::dockerfile::parse::{Args, Keyword};
use layerscope::dockerfile::{Dockerfile, DockerfileError};
use layerscope::fixture::{image, layer, sized_file, whiteout};
use layerscope::model::Image;
use layerscope::pipeline::{self, Settings};

use crate::support::{layerscope, testdata};

fn corpus(name: &str) -> Dockerfile {
    Dockerfile::read(&testdata("dockerfiles/corpus").join(name)).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------- parser

#[test]
fn parses_heredocs() {
    let df = corpus("heredoc.Dockerfile");
    assert_eq!(df.stages.len(), 1);
    let i = &df.stages[0].instructions;
    let kinds: Vec<Keyword> = i.iter().map(|i| i.keyword).collect();
    assert_eq!(
        kinds,
        [
            Keyword::Workdir,
            Keyword::Run,
            Keyword::Copy,
            Keyword::Run,
            Keyword::Cmd
        ]
    );
    assert_eq!((i[1].line, i[1].end_line), (4, 9));
    match &i[1].args {
        Args::Command {
            heredocs,
            exec: false,
            ..
        } => {
            assert_eq!(heredocs.len(), 1);
            assert!(heredocs[0].contains("rm -rf /var/lib/apt/lists/*"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        i[2].copy_args().map(|(s, d)| (s.to_vec(), d.to_owned())),
        Some((vec!["<<heredoc>".to_owned()], "/srv/app.conf".to_owned()))
    );
    assert_eq!((i[2].line, i[2].end_line), (10, 12));
    // A heredoc after the command (`RUN python3 - <<'PY'`).
    assert_eq!((i[3].line, i[3].end_line), (13, 15));
    assert!(
        matches!(&i[3].args, Args::Command { heredocs, .. } if heredocs == &["print(\"no $expansion here\")\n".to_owned()])
    );
    assert_eq!(i[4].line, 16);
    assert!(
        matches!(&i[4].args, Args::Command { exec: true, command, .. } if command == "python3 -m http.server")
    );
}

#[test]
fn parses_escape_directive_on_windows_line_endings() {
    let df = corpus("windows.Dockerfile");
    assert_eq!(df.escape, '`');
    let i = &df.stages[0].instructions;
    assert_eq!(i[0].keyword, Keyword::Shell);
    assert!(matches!(&i[1].args, Args::Text(t) if t == "C:\\app"));
    assert_eq!((i[3].line, i[3].end_line), (6, 8));
    assert_eq!(
        i[3].command(),
        "pip install --no-cache-dir -r requirements.txt"
    );
    assert_eq!(
        i[4].copy_args().map(|(s, d)| (s.to_vec(), d.to_owned())),
        Some((vec![".".to_owned()], "C:\\app".to_owned()))
    );
}

#[test]
fn parses_multi_stage_ml_builds_with_expansion() {
    let df = corpus("ml-multistage.Dockerfile");
    assert_eq!(
        df.global_args,
        [
            ("CUDA_VERSION".to_owned(), Some("12.4.1".to_owned())),
            ("PYTHON".to_owned(), Some("python3.11".to_owned()))
        ]
    );
    assert_eq!(df.stages.len(), 2);
    assert_eq!(df.stages[0].name.as_deref(), Some("build"));
    assert_eq!(df.stages[0].base, "nvidia/cuda:12.4.1-devel-ubuntu22.04");
    assert_eq!(df.stages[1].base, "nvidia/cuda:12.4.1-runtime-ubuntu22.04");
    assert_eq!(df.stages[1].from_line, 16);
    assert!(df.stage_named("BUILD").is_some());
    let build = &df.stages[0].instructions;
    // Comment lines inside a continuation are dropped; RUN is not expanded.
    assert!(
        build[2]
            .command()
            .contains("build-essential && ${PYTHON} -m venv $VENV"),
        "{}",
        build[2].command()
    );
    assert_eq!(
        build[4].flag("mount"),
        Some("type=cache,target=/root/.cache/pip")
    );
    assert_eq!(
        build[4].command(),
        "$VENV/bin/pip install -r requirements.txt"
    );
    let runtime = &df.final_stage().unwrap().instructions;
    assert_eq!(runtime[1].keyword, Keyword::Copy, "lower-case instructions");
    assert_eq!(runtime[1].flag("from"), Some("build"));
    assert_eq!(runtime[1].flag("chown"), Some("1000:1000"));
    assert_eq!(
        runtime[1]
            .copy_args()
            .map(|(s, d)| (s.to_vec(), d.to_owned())),
        Some((vec!["/opt/venv".to_owned()], "/opt/venv".to_owned()))
    );
    assert_eq!(runtime[2].flag("chmod"), Some("755"));
    match &runtime[0].args {
        Args::Pairs(p) => assert_eq!(p[1], ("PATH".to_owned(), Some("/opt/venv/bin:".to_owned()))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn parses_onbuild_and_metadata_instructions() {
    let df = corpus("onbuild.Dockerfile");
    let i = &df.stages[0].instructions;
    let kinds: Vec<Keyword> = i.iter().map(|i| i.keyword).collect();
    assert_eq!(
        kinds,
        [
            Keyword::Label,
            Keyword::Onbuild,
            Keyword::Onbuild,
            Keyword::Healthcheck,
            Keyword::Stopsignal,
            Keyword::Volume,
            Keyword::Expose,
            Keyword::Maintainer,
            Keyword::Add,
            Keyword::Cmd
        ]
    );
    match &i[2].args {
        Args::Onbuild(inner) => {
            assert_eq!(inner.keyword, Keyword::Run);
            assert_eq!(
                inner.command(),
                "pip install --no-cache-dir -r /app/requirements.txt"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((i[0].line, i[0].end_line), (2, 3));
    assert_eq!(i[8].flag("chown"), Some("app:app"));
    assert!(matches!(&i[5].args, Args::Text(t) if t == "/data /cache"));
}

#[test]
fn syntax_errors_name_line_and_column() {
    for (name, line) in [
        ("unknown-instruction.Dockerfile", 3),
        ("unterminated-heredoc.Dockerfile", 4),
    ] {
        let path = testdata("dockerfiles/corpus").join(name);
        match Dockerfile::read(&path) {
            Err(DockerfileError::Syntax {
                line: l, column, ..
            }) => {
                assert_eq!(l, line, "{name}");
                assert!(column >= 1, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // The command line: one line, exit 2, before any image is read.
    let path = testdata("dockerfiles/corpus/unknown-instruction.Dockerfile");
    let out = layerscope()
        .args(["optimize", "/nonexistent.tar", "--dockerfile"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
}

// ---------------------------------------------------- history strings

const APP_DOCKERFILE: &str = "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nRUN rm -rf wheels\nCMD [\"python\", \"main.py\"]\n";

/// A four-layer image: base, `COPY . .` (source + a 100 000-byte wheel),
/// the install (300 000 bytes), and the delete of the wheels.
fn app_image(created_by: [&str; 4]) -> layerscope::fixture::Image {
    image(vec![
        layer(vec![sized_file("usr/bin/python3", 50_000, 1)]).created_by(created_by[0]),
        layer(vec![
            sized_file("app/main.py", 2_000, 2),
            sized_file("app/requirements.txt", 30, 3),
            sized_file("app/wheels/numpy.whl", 100_000, 4),
        ])
        .created_by(created_by[1]),
        layer(vec![sized_file(
            "usr/lib/python3/site-packages/numpy/core.so",
            300_000,
            5,
        )])
        .created_by(created_by[2]),
        layer(vec![whiteout("app/wheels")]).created_by(created_by[3]),
    ])
}

fn load(archive: &Path) -> Image {
    pipeline::load(
        &format!("oci-archive:{}", archive.display()),
        &Settings::default(),
    )
    .unwrap()
    .0
}

fn optimize_json(image: &Path, dockerfile: Option<&Path>) -> serde_json::Value {
    let mut cmd = layerscope();
    cmd.arg("optimize")
        .arg(image)
        .args(["--format", "json", "--no-cache"]);
    if let Some(d) = dockerfile {
        cmd.arg("--dockerfile").arg(d);
    }
    crate::support::run_cmd(cmd).ok_json()
}

fn advice_of<'a>(report: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    report["advice"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == kind)
        .collect()
}

fn check_app_image(created_by: [&str; 4]) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = app_image(created_by);
    let archive = dir.path().join("app.tar");
    fixture.write_oci_archive(&archive, "t").unwrap();
    let blobs: Vec<u64> = fixture
        .layers
        .iter()
        .map(|l| l.blob(fixture.compression).len() as u64)
        .collect();
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(&dockerfile, APP_DOCKERFILE).unwrap();

    let report = optimize_json(&archive, Some(&dockerfile));
    assert_eq!(report["base_layers"], 1);
    // The wheel copied in and deleted later: a bind mount, quoted at line 3.
    let shadowed = advice_of(&report, "shadowed-files");
    assert_eq!(shadowed.len(), 1);
    assert_eq!(shadowed[0]["line"], 3);
    assert_eq!(shadowed[0]["bytes"], 100_000);
    assert!(
        shadowed[0]["change"]
            .as_str()
            .unwrap()
            .contains("--mount=type=bind")
    );
    // Cache order: layers 1..=3 re-pushed now; without the install after.
    let order = advice_of(&report, "cache-order");
    assert_eq!(order.len(), 1);
    assert_eq!(order[0]["line"], 3);
    assert_eq!(order[0]["automated"], true);
    let figure = &order[0]["cache_order"];
    assert_eq!(
        figure["before_compressed_bytes"],
        blobs[1] + blobs[2] + blobs[3]
    );
    assert_eq!(figure["after_compressed_bytes"], blobs[1] + blobs[3]);
    assert_eq!(order[0]["compressed_bytes"], blobs[2]);

    // analyze --dockerfile: findings carry their lines, cache order included.
    let analysis = crate::support::analyze_json(
        archive.to_str().unwrap(),
        &["--dockerfile", dockerfile.to_str().unwrap()],
    );
    let findings = analysis["findings"].as_array().unwrap();
    let wheel = findings
        .iter()
        .find(|f| f["kind"] == "shadowed-files")
        .unwrap();
    assert_eq!(
        (wheel["bytes"].as_u64(), wheel["dockerfile_line"].as_u64()),
        (Some(100_000), Some(3))
    );
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "cache-order" && f["dockerfile_line"] == 3)
    );

    // History alone: the same advice, quoting created_by, no lines.
    let report = optimize_json(&archive, None);
    let order = advice_of(&report, "cache-order");
    assert_eq!(order.len(), 1, "{report:#}");
    assert!(order[0].get("line").is_none());
    assert_eq!(order[0]["instruction"], created_by[1]);
    assert_eq!(
        order[0]["cache_order"]["after_compressed_bytes"],
        blobs[1] + blobs[3]
    );
}

#[test]
fn maps_buildkit_history() {
    check_app_image([
        "/bin/sh -c #(nop) ADD file:4b1d in / ",
        "COPY . . # buildkit",
        "RUN /bin/sh -c pip install -r requirements.txt # buildkit",
        "RUN /bin/sh -c rm -rf wheels # buildkit",
    ]);
}

#[test]
fn maps_classic_builder_history() {
    check_app_image([
        "/bin/sh -c #(nop) ADD file:4b1d in / ",
        "/bin/sh -c #(nop) COPY dir:9c2e in /app ",
        "/bin/sh -c pip install -r requirements.txt",
        "/bin/sh -c rm -rf wheels",
    ]);
}

// ------------------------------------------- findings of other analyzers

/// The cache and toolchain kinds come from the bloat analyzer; the advisor
/// consumes them by kind. Here they are made by hand over a fixture image,
/// with the bytes of its construction.
#[test]
fn cache_and_toolchain_findings_become_line_advice_and_edits() {
    use layerscope::analyze::{Finding, FindingKind};
    use layerscope::dockerfile::Plan;

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("img.tar");
    image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)])
            .created_by("/bin/sh -c #(nop) ADD file:1 in / "),
        layer(vec![
            sized_file("var/lib/apt/lists/deb_Packages", 50_000, 2),
            sized_file("usr/bin/gcc", 80_000, 3),
        ])
        .created_by("RUN /bin/sh -c apt-get update && apt-get install -y gcc # buildkit"),
        layer(vec![
            sized_file("usr/lib/python3/site-packages/a/x.so", 100_000, 4),
            sized_file("root/.cache/pip/http-v2/a/body", 70_000, 5),
        ])
        .created_by("RUN /bin/sh -c pip install -r requirements.txt # buildkit"),
    ])
    .write_oci_archive(&archive, "t")
    .unwrap();
    let text = "FROM debian\nRUN apt-get update && apt-get install -y gcc\nRUN pip install -r requirements.txt\n";
    let df = Dockerfile::parse("Dockerfile", text).unwrap();
    let img = load(&archive);
    let findings = vec![
        Finding::new(
            &img,
            FindingKind::AptLists,
            &[(1, 50_000)],
            "apt lists",
            "clean them",
        ),
        Finding::new(
            &img,
            FindingKind::PipCache,
            &[(2, 70_000)],
            "pip cache",
            "no cache",
        ),
        Finding::new(
            &img,
            FindingKind::BuildToolchain,
            &[(1, 80_000)],
            "gcc",
            "multi-stage",
        ),
    ];
    let plan = Plan::new(&img, &findings, None, Some(&df));
    let by_kind = |k: FindingKind| plan.advice.iter().find(|a| a.kind == Some(k)).unwrap();
    let apt = by_kind(FindingKind::AptLists);
    assert_eq!(
        (apt.line, apt.bytes, apt.applied),
        (Some(2), Some(50_000), true)
    );
    let pip = by_kind(FindingKind::PipCache);
    assert_eq!(
        (pip.line, pip.bytes, pip.applied),
        (Some(3), Some(70_000), true)
    );
    let gcc = by_kind(FindingKind::BuildToolchain);
    assert_eq!(
        (gcc.line, gcc.bytes, gcc.automated),
        (Some(2), Some(80_000), false)
    );
    assert!(gcc.change.contains("AS build"));
    assert_eq!(plan.promised().map(|p| p.0), Some(120_000));
    assert_eq!(
        plan.rewrite(&df),
        "FROM debian\nRUN apt-get update && apt-get install -y gcc \\\n    && rm -rf /var/lib/apt/lists/*\nRUN pip install --no-cache-dir -r requirements.txt\n"
    );
    // In a report, the findings keep their bytes and gain lines and fixes.
    let annotated = plan.annotate(&findings);
    assert_eq!(annotated.len(), 3);
    let pip = annotated
        .iter()
        .find(|f| f.kind == FindingKind::PipCache)
        .unwrap();
    assert_eq!((pip.bytes, pip.dockerfile_line), (70_000, Some(3)));
    assert!(pip.fix.contains("--no-cache-dir"));
}

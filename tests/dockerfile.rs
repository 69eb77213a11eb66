//! Dockerfiles: the parser over a corpus of real-world shapes, the mapping
//! of instructions to layers (history strings of BuildKit and the classic
//! builder, real buildah images), the advice, and the rewrite built for real
//! with buildah.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use layerscope::dockerfile::parse::{Args, Keyword};
use layerscope::dockerfile::{Dockerfile, DockerfileError, map};
use layerscope::fixture::{image, layer, pattern, sized_file, whiteout};
use layerscope::model::Image;
use layerscope::pipeline::{self, Settings};

use crate::support::{layerscope, require_tool, testdata};

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

// ------------------------------------------------------------- buildah

const BASE: &str = "localhost/layerscope-df-base:1";
static BASE_LOCK: Mutex<bool> = Mutex::new(false);
static BUILD_LOCK: Mutex<()> = Mutex::new(());

fn tools() -> bool {
    require_tool("buildah") && require_tool("skopeo") && require_tool("podman")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The tiny offline base (busybox + a fake pip), made once.
fn ensure_base() {
    let mut made = BASE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if *made {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-tiny-base.sh");
    let sha = layerscope::Digest::of(&std::fs::read(&script).unwrap())
        .hex()
        .to_owned();
    // Rebuilt only when the script changed (its hash is a label), so
    // buildah's layer cache keeps working across runs.
    let label = Command::new("podman")
        .args([
            "image",
            "inspect",
            "--format",
            "{{index .Labels \"layerscope.script\"}}",
            BASE,
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if label != sha {
        run(Command::new("sh")
            .arg(script)
            .arg(BASE)
            .env("LAYERSCOPE_SCRIPT_SHA", &sha));
    }
    *made = true;
}

/// Builds `context/file` with one layer per instruction and exports it as
/// an OCI archive.
fn build(context: &Path, file: &Path, tag: &str, out: &Path) -> PathBuf {
    // One build at a time: buildah's layer cache lookup fails when a
    // parallel test removes an image it is looking at.
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("localhost/layerscope-df-{tag}:1");
    run(Command::new("buildah")
        .args([
            "bud",
            "--layers",
            "--isolation",
            "chroot",
            "-q",
            "-t",
            &name,
            "-f",
        ])
        .arg(file)
        .arg(context));
    let archive = out.join(format!("{tag}.tar"));
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("containers-storage:{name}"))
        .arg(format!("oci-archive:{}:{tag}", archive.display())));
    let _ = Command::new("buildah").args(["rmi", &name]).output();
    archive
}

fn load(archive: &Path) -> Image {
    pipeline::load(
        &format!("oci-archive:{}", archive.display()),
        &Settings::default(),
    )
    .unwrap()
    .0
}

/// Copies a fixture directory into a fresh build context.
fn context(fixture: &str, dir: &Path) -> PathBuf {
    let src = testdata("dockerfiles/build").join(fixture);
    let dst = dir.join("ctx");
    copy_dir(&src, &dst);
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn maps_every_instruction_kind_on_a_buildah_image() {
    if !tools() {
        return;
    }
    ensure_base();
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(ctx.join("src")).unwrap();
    std::fs::write(ctx.join("requirements.txt"), "numpy==1.26.4\n").unwrap();
    std::fs::write(ctx.join("src/app.bin"), pattern(20_000, 7)).unwrap();
    let text = format!(
        "FROM {BASE} AS builder\nRUN head -c 5000 /bin/busybox > /built.bin\n\nFROM {BASE}\nENV PIP_X=1\nARG SIZE=100\nWORKDIR /app\nCOPY requirements.txt /app/\nCOPY --chown=app:app src /app/src\nADD requirements.txt /app/r3\nCOPY --from=builder /built.bin /app/built.bin\nRUN dd if=/dev/zero of=/app/big bs=1024 count=$SIZE 2>/dev/null\nRUN rm -f /app/big\nUSER app\nLABEL a=b\nEXPOSE 80\nVOLUME /data\nSTOPSIGNAL SIGTERM\nENTRYPOINT [\"sh\"]\nCMD [\"-c\", \"true\"]\n"
    );
    std::fs::write(ctx.join("Dockerfile"), &text).unwrap();
    let archive = build(&ctx, &ctx.join("Dockerfile"), "kinds", dir.path());
    let image = load(&archive);
    let df = Dockerfile::parse("Dockerfile", &text).unwrap();
    let m = map::map(&image.info, Some(&df));
    assert_eq!(m.base_layers, 1, "{m:#?}");
    assert_eq!(map::base_layer_count(&image.info, None), 1);
    let by_line: BTreeMap<u32, Option<u32>> =
        m.steps.iter().map(|s| (s.line.unwrap(), s.layer)).collect();
    // Every file-writing instruction has its own layer, in order; metadata
    // instructions are matched to history but have none.
    let expected: BTreeMap<u32, Option<u32>> = [
        (5, None),
        (6, None),
        (7, None),
        (8, Some(1)),
        (9, Some(2)),
        (10, Some(3)),
        (11, Some(4)),
        (12, Some(5)),
        (13, Some(6)),
        (14, None),
        (15, None),
        (16, None),
        (17, None),
        (18, None),
        (19, None),
        (20, None),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_line, expected);
    assert!(
        m.steps.iter().all(|s| s.history.is_some()),
        "every instruction has its history entry: {m:#?}"
    );
    // The layers hold what their lines wrote.
    let paths = |l: usize| -> Vec<(String, u64, u32)> {
        image.layers[l]
            .entries
            .iter()
            .filter(|e| e.size > 0)
            .map(|e| (e.path.display(), e.size, e.uid))
            .collect()
    };
    assert_eq!(paths(1), [("/app/requirements.txt".to_owned(), 14, 0)]);
    assert_eq!(paths(2), [("/app/src/app.bin".to_owned(), 20_000, 1000)]);
    assert_eq!(paths(4), [("/app/built.bin".to_owned(), 5_000, 0)]);
    assert_eq!(paths(5), [("/app/big".to_owned(), 102_400, 0)]);
    // The deleted file is advice for line 12, 102 400 bytes.
    let report = optimize_json(&archive, Some(&ctx.join("Dockerfile")));
    let shadowed = advice_of(&report, "shadowed-files");
    assert_eq!(shadowed.len(), 1, "{report:#}");
    assert_eq!(
        (shadowed[0]["line"].as_u64(), shadowed[0]["bytes"].as_u64()),
        (Some(12), Some(102_400))
    );
    assert_eq!(shadowed[0]["automated"], true);
}

/// Regular files of the final filesystem: path -> (size, uid, permission
/// bits), without the paths under `skip`.
fn final_files(image: &Image, skip: &[&str]) -> BTreeMap<String, (u64, u32, u32)> {
    image
        .final_entries()
        .filter(|(_, e)| e.kind == layerscope::scan::EntryKind::File)
        .map(|(_, e)| (e.path.display(), (e.size, e.uid, e.mode & 0o7777)))
        .filter(|(p, _)| !skip.iter().any(|s| p.starts_with(s)))
        .collect()
}

struct Outcome {
    promised: u64,
    before: u64,
    after: u64,
    report: serde_json::Value,
    rewritten: Image,
    diff: String,
}

/// Builds the fixture, runs `optimize --write`, builds the rewrite, and
/// checks the promise: same application files, smaller by at least 90% of
/// the promised bytes.
fn rewrite_for_real(fixture: &str, prepare: impl Fn(&Path)) -> Outcome {
    ensure_base();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(fixture, dir.path());
    prepare(&ctx);
    let original = build(
        &ctx,
        &ctx.join("Dockerfile"),
        &format!("{fixture}-orig"),
        dir.path(),
    );
    let json = dir.path().join("advice.json");
    let out = layerscope()
        .arg("optimize")
        .arg(&original)
        .args(["--no-cache", "--format", "json", "--dockerfile"])
        .arg(ctx.join("Dockerfile"))
        .arg("--write")
        .arg(dir.path().join("Dockerfile.optimized"))
        .arg("--output")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = String::from_utf8(out.stdout).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // Outside the context, so `COPY . .` copies the same files.
    let rewritten = build(
        &ctx,
        &dir.path().join("Dockerfile.optimized"),
        &format!("{fixture}-opt"),
        dir.path(),
    );
    let (before, after) = (load(&original), load(&rewritten));
    let promised = report["promised_bytes"].as_u64().unwrap();
    // buildah leaves empty /etc/hostname, hosts and resolv.conf in RUN
    // layers; a rewrite with fewer RUNs may not have them.
    let skip = [
        "/root/.cache/",
        "/var/lib/apt/lists/",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
    ];
    assert_eq!(
        final_files(&before, &skip),
        final_files(&after, &skip),
        "{fixture}: the rewrite changes the application files\n{diff}"
    );
    let (b, a) = (before.content_bytes(), after.content_bytes());
    assert!(
        b >= a && (b - a) * 10 >= promised * 9,
        "{fixture}: promised {promised}, saved {} ({b} -> {a})\n{diff}",
        b as i64 - a as i64
    );
    eprintln!(
        "{fixture}: content bytes {b} -> {a}, promised {promised}; compressed {} -> {}, promised {}",
        before
            .layers
            .iter()
            .map(|l| l.compressed_bytes)
            .sum::<u64>(),
        after.layers.iter().map(|l| l.compressed_bytes).sum::<u64>(),
        report["promised_compressed_bytes"]
    );
    Outcome {
        promised,
        before: b,
        after: a,
        report,
        rewritten: after,
        diff,
    }
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn rewrite_folds_cleanup_into_the_creating_run() {
    if !tools() {
        return;
    }
    let o = rewrite_for_real("cleanup", |_| {});
    // /tmp/build held 600 000 bytes of busybox and 400 KiB of random data.
    assert_eq!(o.promised, 600_000 + 409_600);
    assert!(o.diff.contains("-RUN rm -rf /tmp/build\n"), "{}", o.diff);
    assert!(o.diff.contains("+    && rm -rf /tmp/build\n"), "{}", o.diff);
    assert_eq!(o.before - o.after, 1_009_600);
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn rewrite_moves_chown_into_copy() {
    if !tools() {
        return;
    }
    let o = rewrite_for_real("chown", |ctx| {
        std::fs::create_dir_all(ctx.join("data/sub")).unwrap();
        std::fs::write(ctx.join("data/a.bin"), pattern(100_000, 11)).unwrap();
        std::fs::write(ctx.join("data/b.bin"), pattern(150_000, 12)).unwrap();
        std::fs::write(ctx.join("data/sub/c.bin"), pattern(250_000, 13)).unwrap();
    });
    assert_eq!(o.promised, 500_000);
    assert!(
        o.diff
            .contains("+COPY --chown=app:app --chmod=750 data /app/data\n"),
        "{}",
        o.diff
    );
    assert_eq!(o.before - o.after, 500_000);
    let owners: Vec<(u32, u32)> = final_files(&o.rewritten, &[])
        .iter()
        .filter(|(p, _)| p.starts_with("/app/data/"))
        .map(|(_, v)| (v.1, v.2))
        .collect();
    assert_eq!(owners, [(1000, 0o750); 3]);
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn rewrite_reorders_dependencies_and_drops_caches() {
    if !tools() {
        return;
    }
    let o = rewrite_for_real("pip-order", |ctx| {
        std::fs::write(
            ctx.join("wheels/numpy-1.26.4-cp312-none-any.whl"),
            pattern(120_000, 21),
        )
        .unwrap();
    });
    let report = &o.report;
    // The model chown folds into the RUN that writes it (400 000 bytes),
    // and `--no-cache-dir` drops the two 300 000-byte pip cache bodies the
    // fake pip writes (the pip-cache finding of the bloat analyzer).
    let pip_cache: u64 = advice_of(report, "pip-cache")
        .iter()
        .filter(|a| a["automated"] == true && a["line"] == 11)
        .map(|a| a["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(pip_cache, 600_000, "{report:#}");
    assert!(
        o.diff
            .contains("+RUN pip install --no-cache-dir -r requirements.txt\n"),
        "{}",
        o.diff
    );
    assert_eq!(o.promised, 400_000 + pip_cache);
    // The copied wheels are advice only.
    let wheels = advice_of(report, "shadowed-files");
    assert!(
        wheels
            .iter()
            .any(|a| a["bytes"] == 120_000 + 13 && a["automated"] == false),
        "{report:#}"
    );
    // Cache order: the install (2 x 200 000-byte packages + their cache)
    // moves above the source copy.
    let order = advice_of(report, "cache-order");
    assert_eq!(order.len(), 1);
    assert_eq!(order[0]["automated"], true);
    let figure = &order[0]["cache_order"];
    let (before_c, after_c) = (
        figure["before_compressed_bytes"].as_u64().unwrap(),
        figure["after_compressed_bytes"].as_u64().unwrap(),
    );
    assert!(after_c < before_c);
    assert!(o.diff.contains("+COPY requirements.txt ./\n"), "{}", o.diff);
    // In the rewritten image, the layers from `COPY . .` up are the source,
    // the model and the wheel delete: what the advice promised, less the
    // chown layer the fold removed, within 10%.
    let folded: u64 = advice_of(report, "metadata-rewrite")
        .iter()
        .map(|a| a["compressed_bytes"].as_u64().unwrap())
        .sum();
    assert!(folded > 0, "{report:#}");
    let copy = o
        .rewritten
        .layers
        .iter()
        .position(|l| l.entries.iter().any(|e| e.path.display() == "/app/main.py"))
        .unwrap();
    let measured: u64 = o.rewritten.layers[copy..]
        .iter()
        .map(|l| l.compressed_bytes)
        .sum();
    let expected = after_c - folded;
    let tolerance = expected / 10 + 2_000;
    assert!(
        measured.abs_diff(expected) <= tolerance,
        "after reordering: measured {measured}, advised {after_c} less the folded chown {folded}"
    );
    eprintln!(
        "pip-order: cache-order compressed bytes per source change {before_c} -> {after_c} (measured {measured})"
    );
}

// ------------------------------------------- findings of other analyzers

/// The cache and toolchain kinds come from the bloat analyzer; the advisor
/// consumes them by kind. Here they are made by hand over a fixture image,
/// with the bytes of its construction.
#[test]
fn cache_and_toolchain_findings_become_line_advice_and_edits() {
    use layerscope::analyze::{Finding, FindingKind};
    use layerscope::dockerfile::{Plan, rewrite};

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
    let plan = Plan::new(&img, &findings, Some(&df));
    let by_kind = |k: FindingKind| plan.advice.iter().find(|a| a.kind == k).unwrap();
    let apt = by_kind(FindingKind::AptLists);
    assert_eq!(
        (apt.line, apt.bytes, apt.automated),
        (Some(2), 50_000, true)
    );
    let pip = by_kind(FindingKind::PipCache);
    assert_eq!(
        (pip.line, pip.bytes, pip.automated),
        (Some(3), 70_000, true)
    );
    let gcc = by_kind(FindingKind::BuildToolchain);
    assert_eq!(
        (gcc.line, gcc.bytes, gcc.automated),
        (Some(2), 80_000, false)
    );
    assert!(gcc.change.contains("AS build"));
    assert_eq!(plan.promised().0, 120_000);
    assert_eq!(
        rewrite::apply(&df, &plan.advice),
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

#[test]
fn a_dockerfile_that_does_not_match_the_history_falls_back_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("app.tar");
    app_image([
        "/bin/sh -c #(nop) ADD file:4b1d in / ",
        "COPY . . # buildkit",
        "RUN /bin/sh -c pip install -r requirements.txt # buildkit",
        "RUN /bin/sh -c rm -rf wheels # buildkit",
    ])
    .write_oci_archive(&archive, "t")
    .unwrap();
    let other = dir.path().join("Dockerfile");
    std::fs::write(
        &other,
        "FROM golang\nCOPY main.go /src/\nRUN go build -o /app /src\nRUN rm -rf /src\n",
    )
    .unwrap();
    let out = layerscope()
        .arg("optimize")
        .arg(&archive)
        .args(["--no-cache", "--format", "json", "--dockerfile"])
        .arg(&other)
        .arg("--write")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match the history"));
    // No diff: nothing is rewritten from a Dockerfile that built another image.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "the diff of an unchanged file is empty"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out")).unwrap(),
        std::fs::read_to_string(&other).unwrap()
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn rewrite_cleans_apt_lists_in_the_same_run() {
    if !tools() {
        return;
    }
    let o = rewrite_for_real("apt", |_| {});
    // The fake `apt-get update` writes one 250 000-byte list.
    assert_eq!(o.promised, 250_000);
    assert_eq!(o.before - o.after, 250_000);
    assert!(
        o.diff.contains("+    && rm -rf /var/lib/apt/lists/*\n"),
        "{}",
        o.diff
    );
    // The compiler is advice only: a multi-stage build, 100 000 bytes.
    let gcc = advice_of(&o.report, "build-toolchain");
    assert_eq!(gcc.len(), 1, "{:#}", o.report);
    assert_eq!(
        (gcc[0]["line"].as_u64(), gcc[0]["bytes"].as_u64()),
        (Some(4), Some(100_000))
    );
    assert_eq!(gcc[0]["automated"], false);
}

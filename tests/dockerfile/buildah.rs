//! The rewrite built for real: the original and the rewritten Dockerfile
//! built with `buildah bud --layers` on the tiny offline base
//! (`scripts/make-tiny-base.sh`), then compared with layerscope: the same
//! files, smaller by what was promised.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use layerscope::dockerfile::{Dockerfile, map};
use layerscope::fixture::pattern;
use layerscope::model::Image;

use super::{advice_of, load, optimize_json};
use crate::support::{layerscope, require_tool, run_ok, testdata};

const BASE: &str = "localhost/layerscope-df-base:1";
static BASE_LOCK: Mutex<bool> = Mutex::new(false);
static BUILD_LOCK: Mutex<()> = Mutex::new(());

fn tools() -> bool {
    require_tool("buildah") && require_tool("skopeo") && require_tool("podman")
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
        run_ok(
            Command::new("sh")
                .arg(script)
                .arg(BASE)
                .env("LAYERSCOPE_SCRIPT_SHA", &sha),
        );
    }
    *made = true;
}

/// Builds `context/file` with one layer per instruction and exports it as
/// an OCI archive.
fn build(context: &Path, file: &Path, tag: &str, out: &Path) -> PathBuf {
    // One build at a time: buildah's layer cache lookup fails when a
    // parallel test removes an image it is looking at.
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // LAYERSCOPE_TAG_PREFIX keeps two worktrees' builds apart.
    let prefix = std::env::var("LAYERSCOPE_TAG_PREFIX").unwrap_or_default();
    let name = format!("localhost/{prefix}layerscope-df-{tag}:1");
    run_ok(
        Command::new("buildah")
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
            .arg(context),
    );
    let archive = out.join(format!("{tag}.tar"));
    run_ok(
        Command::new("skopeo")
            .arg("copy")
            .arg(format!("containers-storage:{name}"))
            .arg(format!("oci-archive:{}:{tag}", archive.display())),
    );
    let _ = Command::new("buildah").args(["rmi", &name]).output();
    archive
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
    crate::support::assert_ok(&out);
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
        // The leftover wheel the `delete-leftovers` change removes on purpose.
        "/tmp/wheels/",
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

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn rewrite_joins_apt_update_with_the_install() {
    if !tools() {
        return;
    }
    // The fake `apt-get install` fails without lists: a cleanup after the
    // update alone would not build.
    let o = rewrite_for_real("apt-split", |_| {});
    assert_eq!(o.promised, 250_000);
    assert_eq!(o.before - o.after, 250_000);
    assert!(o.diff.contains("-RUN apt-get update\n"), "{}", o.diff);
    assert!(
        o.diff.contains(
            "+RUN apt-get update \\\n+    && apt-get install -y curl \\\n+    && rm -rf /var/lib/apt/lists/*\n"
        ),
        "{}",
        o.diff
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn rewrite_joins_the_runs_that_create_use_and_delete_a_dataset() {
    if !tools() {
        return;
    }
    let o = rewrite_for_real("dataset", |_| {});
    assert_eq!(o.promised, 300_000);
    assert_eq!(o.before - o.after, 300_000);
    assert_eq!(
        advice_of(&o.report, "shadowed-files")[0]["change_kind"],
        "merge-runs"
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn rewrite_moves_chown_into_the_creating_run_before_the_user_exists() {
    if !tools() {
        return;
    }
    let o = rewrite_for_real("chown-run", |_| {});
    let app_py = std::fs::metadata(testdata("dockerfiles/build/chown-run/app.py"))
        .unwrap()
        .len();
    assert_eq!(o.promised, 200_000 + app_py);
    assert_eq!(o.before - o.after, 200_000 + app_py);
    assert!(
        o.diff.contains("+COPY --chown=1001:1001 app.py /app/\n"),
        "{}",
        o.diff
    );
    let owners: Vec<u32> = final_files(&o.rewritten, &[])
        .iter()
        .filter(|(p, _)| p.starts_with("/app/"))
        .map(|(_, v)| v.1)
        .collect();
    assert_eq!(owners, [1001, 1001]);
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn rewrite_deletes_leftover_wheels_after_their_last_use() {
    if !tools() {
        return;
    }
    let o = rewrite_for_real("leftover", |_| {});
    assert_eq!(o.promised, 90_000);
    assert_eq!(o.before - o.after, 90_000);
    assert!(
        o.diff
            .contains("+    && rm -f /tmp/wheels/tool-1.0-py3-none-any.whl\n"),
        "{}",
        o.diff
    );
}

//! Each rewrite kind on a fixture image: the exact rewritten Dockerfile,
//! the bytes promised (from the fixture's construction), the class, and
//! the reason a change is not applied.

use std::path::{Path, PathBuf};

use layerscope::fixture::{Item, image, layer, owned, sized_file, whiteout};

use crate::support::layerscope;

/// What one `optimize --write` run gave.
pub(super) struct Run {
    pub(super) code: Option<i32>,
    pub(super) report: serde_json::Value,
    pub(super) rewritten: String,
    pub(super) stderr: String,
}

/// Writes the fixture and the Dockerfile, runs `optimize --format json
/// --write` with `extra` flags (no image when `fixture` is `None`).
pub(super) fn optimize(
    fixture: Option<layerscope::fixture::Image>,
    dockerfile: &str,
    extra: &[&str],
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let df = dir.path().join("Dockerfile");
    std::fs::write(&df, dockerfile).unwrap();
    let out_df = dir.path().join("Dockerfile.out");
    let mut cmd = layerscope();
    cmd.arg("optimize");
    if let Some(f) = fixture {
        let archive: PathBuf = dir.path().join("img.tar");
        f.write_oci_archive(&archive, "t").unwrap();
        cmd.arg(&archive).arg("--no-cache");
    }
    let json = dir.path().join("advice.json");
    let out = cmd
        .args(["--format", "json", "--dockerfile"])
        .arg(&df)
        .arg("--write")
        .arg(&out_df)
        .arg("--output")
        .arg(&json)
        .args(extra)
        .output()
        .unwrap();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Run {
        code: out.status.code(),
        report: serde_json::from_str(&read(&json)).unwrap_or(serde_json::Value::Null),
        rewritten: read(&out_df),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub(super) fn change<'a>(report: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    report["advice"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["change_kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {report:#}"))
}

const BASE: &str = "/bin/sh -c #(nop) ADD file:1 in / ";

fn run(cmd: &str) -> String {
    format!("RUN /bin/sh -c {cmd} # buildkit")
}

/// `apt-get update` alone, an ENV, the install: the update joins the
/// install and the lists go at the end of that RUN (not after the update,
/// which broke the build); pip's cache goes with `--no-cache-dir`;
/// `--no-install-recommends` waits for `--apply`.
fn apt_fixture() -> layerscope::fixture::Image {
    image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)]).created_by(BASE),
        layer(vec![sized_file(
            "var/lib/apt/lists/deb.debian.org_Packages",
            50_000,
            2,
        )])
        .created_by(&run("apt-get update")),
        layer(vec![sized_file("usr/bin/curl", 30_000, 3)])
            .created_by(&run("apt-get install -y curl")),
        layer(vec![
            sized_file("usr/lib/python3/site-packages/numpy/core.so", 100_000, 4),
            sized_file("root/.cache/pip/http-v2/a/body", 70_000, 5),
        ])
        .created_by(&run("pip install numpy")),
    ])
}

const APT_DOCKERFILE: &str = "FROM debian\nRUN apt-get update\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get install -y curl\nRUN pip install numpy\n";

#[test]
fn apt_update_joins_the_install_and_lists_go_at_its_end() {
    let r = optimize(Some(apt_fixture()), APT_DOCKERFILE, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        "FROM debian\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get update \\\n    && apt-get install -y curl \\\n    && rm -rf /var/lib/apt/lists/*\nRUN pip install --no-cache-dir numpy\n"
    );
    let apt = change(&r.report, "apt-cleanup");
    assert_eq!(
        (&apt["bytes"], &apt["class"], &apt["applied"], &apt["line"]),
        (&50_000.into(), &"safe".into(), &true.into(), &2.into())
    );
    let pip = change(&r.report, "pip-no-cache");
    assert_eq!(
        (&pip["bytes"], &pip["applied"]),
        (&70_000.into(), &true.into())
    );
    assert_eq!(r.report["promised_bytes"], 120_000);
    let rec = change(&r.report, "no-install-recommends");
    assert_eq!(
        (&rec["class"], &rec["applied"]),
        (&"review".into(), &false.into())
    );
    assert!(
        rec["reason"]
            .as_str()
            .unwrap()
            .contains("--apply no-install-recommends"),
        "{rec:#}"
    );

    // Asked for: the review change too.
    let r = optimize(
        Some(apt_fixture()),
        APT_DOCKERFILE,
        &["--apply", "no-install-recommends"],
    );
    assert!(
        r.rewritten
            .contains("    && apt-get install --no-install-recommends -y curl \\\n"),
        "{}",
        r.rewritten
    );
    let r = optimize(Some(apt_fixture()), APT_DOCKERFILE, &["--apply", "all"]);
    assert_eq!(change(&r.report, "no-install-recommends")["applied"], true);
    let r = optimize(Some(apt_fixture()), APT_DOCKERFILE, &["--apply", "bogus"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("unknown change kind `bogus`"),
        "{}",
        r.stderr
    );
}

/// A dataset made in one RUN, read by the next, deleted in a third: the
/// three RUNs become one, the delete after the training.
#[test]
fn created_used_deleted_files_join_their_runs() {
    let fixture = image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)]).created_by(BASE),
        layer(vec![sized_file("data/train.csv", 200_000, 2)])
            .created_by(&run("python3 gen.py /data/train.csv")),
        layer(vec![sized_file("app/model.bin", 10_000, 3)]).created_by(&run("python3 train.py")),
        layer(vec![whiteout("data")]).created_by(&run("rm -rf /data")),
    ]);
    let text = "FROM debian\nRUN python3 gen.py /data/train.csv\nRUN python3 train.py\nRUN rm -rf /data\nCMD [\"python3\"]\n";
    let r = optimize(Some(fixture), text, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        "FROM debian\nRUN python3 gen.py /data/train.csv \\\n    && python3 train.py \\\n    && rm -rf /data\nCMD [\"python3\"]\n"
    );
    let m = change(&r.report, "merge-runs");
    assert_eq!(
        (&m["bytes"], &m["applied"]),
        (&200_000.into(), &true.into())
    );
}

/// A cleanup RUN right after the creator folds into it; a cleanup with a
/// `cd` before it is grouped so the cleanup runs where it did.
#[test]
fn a_cleanup_folds_into_the_creating_run() {
    let fixture = image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)]).created_by(BASE),
        layer(vec![
            sized_file("tmp/build/obj.o", 40_000, 2),
            sized_file("usr/local/bin/tool", 5_000, 3),
        ])
        .created_by(&run("cd /tmp/build && make install")),
        layer(vec![whiteout("tmp/build")]).created_by(&run("rm -rf build")),
    ]);
    let text = "FROM debian\nWORKDIR /tmp\nRUN cd /tmp/build && make install\nRUN rm -rf build\n";
    let r = optimize(Some(fixture), text, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        "FROM debian\nWORKDIR /tmp\nRUN ( cd /tmp/build && make install ) \\\n    && rm -rf build\n"
    );
    assert_eq!(change(&r.report, "fold-cleanup")["bytes"], 40_000);
}

/// `chown -R` over a COPY's files, a pip install's files and base-image
/// files, with the user created after both: `COPY --chown` with the
/// numeric owner, a `find ... chown` at the end of the install, and the
/// chown RUN reduced to what is left.
#[test]
fn chown_moves_into_the_copy_and_the_creating_run() {
    let site = "usr/lib/python3/site-packages";
    let fixture = image(vec![
        layer(vec![
            sized_file("bin/sh", 10_000, 1),
            sized_file(format!("{site}/pip/__init__.py"), 5_000, 2),
        ])
        .created_by(BASE),
        layer(vec![
            sized_file("app/main.py", 2_000, 3),
            sized_file("app/requirements.txt", 30, 4),
        ])
        .created_by("COPY . . # buildkit"),
        layer(vec![sized_file(
            format!("{site}/numpy/core.so"),
            300_000,
            5,
        )])
        .created_by(&run("pip install --no-cache-dir -r requirements.txt")),
        layer(vec![sized_file("etc/passwd", 100, 6)]).created_by(&run("useradd -m app")),
        layer(vec![
            owned(sized_file("app/main.py", 2_000, 3), 1000),
            owned(sized_file("app/requirements.txt", 30, 4), 1000),
            owned(
                sized_file(format!("{site}/numpy/core.so"), 300_000, 5),
                1000,
            ),
            owned(
                sized_file(format!("{site}/pip/__init__.py"), 5_000, 2),
                1000,
            ),
        ])
        .created_by(&run(&format!("chown -R app:app /app /{site}"))),
    ]);
    let text = format!(
        "FROM debian\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\nRUN useradd -m app\nRUN chown -R app:app /app /{site}\nUSER app\n"
    );
    let r = optimize(Some(fixture), &text, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        format!(
            "FROM debian\nWORKDIR /app\nCOPY --chown=1000:1000 requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt \\\n    && find /{site} \\( \\! -user 1000 -o \\! -group 1000 \\) -exec chown -h 1000:1000 {{}} +\nCOPY --chown=1000:1000 . .\nRUN useradd -m app\nRUN find /app /{site} \\( \\! -user app -o \\! -group app \\) -exec chown -h app:app {{}} +\nUSER app\n"
        )
    );
    let c = change(&r.report, "chown-in-run");
    // The base image's pip stays chowned by the remaining RUN.
    assert_eq!(
        (&c["bytes"], &c["applied"]),
        (&302_030.into(), &true.into())
    );
    assert_eq!(c["line"], 6);
}

/// Wheels fetched in one RUN and installed in the next: the RUNs join and
/// the wheels are deleted at the end.
#[test]
fn leftover_wheels_go_in_the_installing_run() {
    let fixture = image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)]).created_by(BASE),
        layer(vec![sized_file(
            "tmp/wheels/lightgbm-4.5.0-py3-none-any.whl",
            90_000,
            2,
        )])
        .created_by(&run("pip download --no-cache-dir -d /tmp/wheels lightgbm")),
        layer(vec![sized_file(
            "usr/lib/python3/site-packages/lightgbm/lib.so",
            150_000,
            3,
        )])
        .created_by(&run("pip install --no-cache-dir /tmp/wheels/*.whl")),
    ]);
    let text = "FROM debian\nRUN pip download --no-cache-dir -d /tmp/wheels lightgbm\nRUN pip install --no-cache-dir /tmp/wheels/*.whl\n";
    let r = optimize(Some(fixture), text, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        "FROM debian\nRUN pip download --no-cache-dir -d /tmp/wheels lightgbm \\\n    && pip install --no-cache-dir /tmp/wheels/*.whl \\\n    && rm -f /tmp/wheels/lightgbm-4.5.0-py3-none-any.whl\n"
    );
    let w = change(&r.report, "delete-leftovers");
    assert_eq!((&w["bytes"], &w["applied"]), (&90_000.into(), &true.into()));
}

/// Tests and bytecode of installed packages: review changes.
#[test]
fn package_tests_and_bytecode_are_review_changes() {
    let site = "usr/local/lib/python3.11/site-packages";
    let fixture = image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)]).created_by(BASE),
        layer(vec![
            sized_file(format!("{site}/scipy/linalg.so"), 100_000, 2),
            sized_file(format!("{site}/scipy/tests/test_x.py"), 30_000, 3),
            sized_file(
                format!("{site}/scipy/__pycache__/x.cpython-311.pyc"),
                20_000,
                4,
            ),
            sized_file(format!("{site}/scipy/x.py"), 1_000, 5),
        ])
        .created_by(&run("pip install --no-cache-dir scipy")),
    ]);
    let text = "FROM python:3.11\nRUN pip install --no-cache-dir scipy\n";
    let r = optimize(Some(fixture.clone()), text, &[]);
    assert_eq!(r.rewritten, text, "review changes wait for --apply");
    let t = change(&r.report, "delete-tests");
    assert_eq!(
        (&t["class"], &t["applied"]),
        (&"review".into(), &false.into())
    );
    let r = optimize(
        Some(fixture),
        text,
        &["--apply", "delete-tests,delete-bytecode"],
    );
    assert_eq!(
        r.rewritten,
        format!(
            "FROM python:3.11\nRUN pip install --no-cache-dir scipy \\\n    && find /{site} -depth -type d \\( -name tests -o -name test \\) -path '*-packages/*/*' -exec rm -rf {{}} + \\\n    && find /{site} -depth -type d -name __pycache__ -exec rm -rf {{}} +\n"
        )
    );
    assert_eq!(change(&r.report, "delete-tests")["bytes"], 30_000);
    assert_eq!(change(&r.report, "delete-bytecode")["bytes"], 20_000);
}

/// Every listed change is applied or says why not.
#[test]
fn every_change_is_applied_or_says_why_not() {
    for (fixture, text) in [(apt_fixture(), APT_DOCKERFILE)] {
        let r = optimize(Some(fixture), text, &[]);
        for a in r.report["advice"].as_array().unwrap() {
            assert!(
                a["applied"] == true || a["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{a:#}"
            );
        }
    }
}

/// Without an image: the structural changes, bytes null.
#[test]
fn without_an_image_structural_changes_with_unknown_bytes() {
    let text = "FROM debian\nRUN apt-get update\nRUN apt-get install -y python3-pip\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCOPY data /srv/data\nRUN chown -R app:app /srv/data\nRUN uv pip install --system x\nRUN conda install -y numpy\n";
    let r = optimize(None, text, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        "FROM debian\nRUN apt-get update \\\n    && apt-get install -y python3-pip \\\n    && rm -rf /var/lib/apt/lists/*\nWORKDIR /app\nCOPY requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nCOPY --chown=app:app data /srv/data\nRUN uv --no-cache pip install --system x\nRUN conda install -y numpy \\\n    && conda clean -afy\n"
    );
    assert_eq!(r.report["image"], serde_json::Value::Null);
    assert_eq!(r.report["promised_bytes"], serde_json::Value::Null);
    for a in r.report["advice"].as_array().unwrap() {
        assert_eq!(a["bytes"], serde_json::Value::Null, "{a:#}");
    }
    for kind in [
        "apt-cleanup",
        "pip-no-cache",
        "copy-chown",
        "uv-no-cache",
        "conda-clean",
        "cache-order",
    ] {
        assert_eq!(change(&r.report, kind)["applied"], true, "{kind}");
    }
}

/// A Dockerfile that does not line up with the history: exit 2 and one
/// line; `--force` goes on.
#[test]
fn a_dockerfile_that_does_not_line_up_stops_with_exit_2() {
    let text = "FROM debian\nRUN apt-get update\nRUN make\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get install -y curl\nRUN pip install numpy\n";
    let r = optimize(Some(apt_fixture()), text, &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    // One error line, and a hint line naming --force.
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stderr);
    assert!(lines[0].contains("does not line up"), "{}", r.stderr);
    assert!(lines[0].contains("line 3 (`RUN make`)"), "{}", r.stderr);
    assert!(
        lines[1].starts_with("hint:") && lines[1].contains("--force"),
        "{}",
        r.stderr
    );
    let r = optimize(Some(apt_fixture()), text, &["--force"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("warning"), "{}", r.stderr);
}

/// Tests and bytecode written by two installing RUNs (apt's python3-numpy,
/// then pip): one change per RUN, each with the bytes that RUN wrote, and
/// each RUN ends by deleting them in its own environment; the pip RUN also
/// deletes the bytecode it writes again into apt's environment. The base
/// image's bytecode is not counted (it cannot be changed here).
#[test]
fn package_tests_and_bytecode_spanning_layers_go_in_each_run() {
    let apt = "usr/lib/python3/dist-packages";
    let pip = "usr/local/lib/python3.11/dist-packages";
    let fixture = image(vec![
        layer(vec![
            sized_file("bin/sh", 10_000, 1),
            sized_file(
                format!("{apt}/six/__pycache__/six.cpython-311.pyc"),
                7_000,
                9,
            ),
        ])
        .created_by(BASE),
        layer(vec![
            sized_file(format!("{apt}/numpy/core/_multiarray.so"), 90_000, 2),
            sized_file(format!("{apt}/numpy/core/tests/test_a.py"), 40_000, 3),
            sized_file(format!("{apt}/numpy/tests/test_b.py"), 4_000, 4),
            sized_file(
                format!("{apt}/numpy/__pycache__/a.cpython-311.pyc"),
                15_000,
                5,
            ),
        ])
        .created_by(&run("apt-get install -y python3-numpy")),
        layer(vec![
            sized_file(format!("{pip}/scipy/linalg.so"), 100_000, 6),
            sized_file(format!("{pip}/scipy/linalg/tests/test_x.py"), 30_000, 7),
            sized_file(
                format!("{pip}/scipy/__pycache__/x.cpython-311.pyc"),
                20_000,
                8,
            ),
        ])
        .created_by(&run("pip install --no-cache-dir scipy")),
    ]);
    let text =
        "FROM debian\nRUN apt-get install -y python3-numpy\nRUN pip install --no-cache-dir scipy\n";
    let r = optimize(
        Some(fixture),
        text,
        &["--apply", "delete-tests,delete-bytecode"],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let of = |kind: &str| -> Vec<(u64, u64, bool)> {
        let mut v: Vec<(u64, u64, bool)> = r.report["advice"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["change_kind"] == kind)
            .map(|a| {
                (
                    a["line"].as_u64().unwrap(),
                    a["bytes"].as_u64().unwrap(),
                    a["applied"].as_bool().unwrap(),
                )
            })
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        of("delete-tests"),
        [(2, 44_000, true), (3, 30_000, true)],
        "{:#}",
        r.report
    );
    assert_eq!(
        of("delete-bytecode"),
        [(2, 15_000, true), (3, 20_000, true)]
    );
    let tests = |env: &str| {
        format!(
            "find /{env} -depth -type d \\( -name tests -o -name test \\) -path '*-packages/*/*' -exec rm -rf {{}} +"
        )
    };
    let pyc =
        |env: &str| format!("find /{env} -depth -type d -name __pycache__ -exec rm -rf {{}} +");
    assert_eq!(
        r.rewritten,
        format!(
            "FROM debian\nRUN apt-get install -y python3-numpy \\\n    && {} \\\n    && {}\nRUN pip install --no-cache-dir scipy \\\n    && {} \\\n    && {} \\\n    && {}\n",
            tests(apt),
            pyc(apt),
            tests(pip),
            pyc(pip),
            // pip imports its own modules from apt's environment and
            // writes their bytecode again: deleted in that RUN too.
            pyc(apt)
        ),
        "{:#}",
        r.report
    );
}

/// numpy's `numpy.testing` imports `numpy._core.tests._natype` (and SciPy
/// imports `numpy.testing`): the test deletion keeps that module and the
/// package's `__init__.py`, and does not count them.
/// numpy installed by `pip` above a base: `numpy/x.py` and the files of
/// `numpy/_core/tests` given as (name, size), plus `more`; the Dockerfile.
fn pip_numpy(
    core_tests: &[(&str, usize)],
    more: Vec<Item>,
) -> (layerscope::fixture::Image, &'static str) {
    let mut files = vec![sized_file(format!("{NUMPY_SITE}/numpy/x.py"), 1_000, 2)];
    for (i, (name, size)) in core_tests.iter().enumerate() {
        files.push(sized_file(
            format!("{NUMPY_SITE}/numpy/_core/tests/{name}"),
            *size,
            3 + i as u64,
        ));
    }
    files.extend(more);
    let fixture = image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)]).created_by(BASE),
        layer(files).created_by(&run("pip install --no-cache-dir numpy")),
    ]);
    (
        fixture,
        "FROM python:3.11\nRUN pip install --no-cache-dir numpy\n",
    )
}

const NUMPY_SITE: &str = "usr/local/lib/python3.11/dist-packages";

#[test]
fn test_modules_numpy_imports_stay() {
    let site = NUMPY_SITE;
    let (fixture, text) = pip_numpy(
        &[
            ("__init__.py", 100),
            ("_natype.py", 2_000),
            ("test_a.py", 30_000),
            ("data/d.csv", 4_000),
        ],
        vec![sized_file(
            format!("{site}/numpy/ma/tests/test_b.py"),
            10_000,
            7,
        )],
    );
    let r = optimize(Some(fixture), text, &["--apply", "delete-tests"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        format!(
            "FROM python:3.11\nRUN pip install --no-cache-dir numpy \\\n    && find /{site} -depth -type d \\( -name tests -o -name test \\) -path '*-packages/*/*' \\! -path '*-packages/numpy/_core/tests' -exec rm -rf {{}} + && find /{site} -path '*-packages/numpy/_core/tests/*' \\! -name __init__.py \\! -name _natype.py -delete\n"
        )
    );
    let t = change(&r.report, "delete-tests");
    assert_eq!(
        (&t["applied"], &t["bytes"]),
        (&true.into(), &44_000.into()),
        "{t:#}"
    );
}

/// When the only test files are the ones numpy imports, nothing is to be
/// deleted: no `delete-tests` change (it would promise bytes it keeps).
#[test]
fn only_imported_test_modules_give_no_change() {
    let (fixture, text) = pip_numpy(&[("__init__.py", 100), ("_natype.py", 60_000)], Vec::new());
    let r = optimize(Some(fixture), text, &["--apply", "delete-tests"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.rewritten, text);
    let kinds: Vec<&serde_json::Value> = r.report["advice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["change_kind"])
        .collect();
    assert!(!kinds.contains(&&"delete-tests".into()), "{:#}", r.report);
}

/// Wheels copied in and deleted by a later RUN are both `shadowed-files`
/// and `leftover-wheel`: the one change they ask for (a bind mount) is
/// listed once, with the wheel's bytes.
#[test]
fn one_change_asked_by_two_findings_is_listed_once() {
    let whl = "wheels/torch-2.3.0-cp311-cp311-linux_x86_64.whl";
    let fixture = image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)]).created_by(BASE),
        layer(vec![sized_file(whl, 90_000, 2)]).created_by("COPY wheels/ /wheels/ # buildkit"),
        layer(vec![sized_file(
            "usr/lib/python3/site-packages/torch/_C.so",
            5_000,
            3,
        )])
        .created_by(&run("pip install --no-cache-dir /wheels/*.whl")),
        layer(vec![whiteout("wheels")]).created_by(&run("rm -rf /wheels")),
    ]);
    let text = "FROM python:3.11\nCOPY wheels/ /wheels/\nRUN pip install --no-cache-dir /wheels/*.whl\nRUN rm -rf /wheels\n";
    let r = optimize(Some(fixture), text, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let binds: Vec<&serde_json::Value> = r.report["advice"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["change_kind"] == "bind-mount")
        .collect();
    assert_eq!(binds.len(), 1, "{:#}", r.report);
    assert_eq!(binds[0]["bytes"], 90_000);
    assert_eq!(binds[0]["line"], 2);
}

/// A wheel downloaded in one RUN, installed in the next and deleted in a
/// third: `merge-runs` joins the three and takes the wheel out with its
/// deletion, so `delete-leftovers`, which would remove the same file, is
/// not applied (and its bytes are not promised twice).
#[test]
fn a_wheel_the_merge_takes_out_is_not_deleted_twice() {
    let whl = "tmp/wheels/lightgbm-4.5.0-py3-none-any.whl";
    let fixture = image(vec![
        layer(vec![sized_file("bin/sh", 10_000, 1)]).created_by(BASE),
        layer(vec![sized_file(whl, 90_000, 2)])
            .created_by(&run("pip download --no-cache-dir -d /tmp/wheels lightgbm")),
        layer(vec![sized_file(
            "usr/lib/python3/site-packages/lightgbm/lib.so",
            150_000,
            3,
        )])
        .created_by(&run("pip install --no-cache-dir /tmp/wheels/*.whl")),
        layer(vec![layerscope::fixture::whiteout("tmp/wheels")])
            .created_by(&run("rm -rf /tmp/wheels")),
    ]);
    let text = "FROM debian\nRUN pip download --no-cache-dir -d /tmp/wheels lightgbm\nRUN pip install --no-cache-dir /tmp/wheels/*.whl\nRUN rm -rf /tmp/wheels\n";
    let r = optimize(Some(fixture), text, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        "FROM debian\nRUN pip download --no-cache-dir -d /tmp/wheels lightgbm \\\n    && pip install --no-cache-dir /tmp/wheels/*.whl \\\n    && rm -rf /tmp/wheels\n"
    );
    let m = change(&r.report, "merge-runs");
    assert_eq!((&m["applied"], &m["bytes"]), (&true.into(), &90_000.into()));
    let d = change(&r.report, "delete-leftovers");
    assert_eq!(d["applied"], false);
    assert_eq!(
        d["reason"],
        "`merge-runs` at line 2 removes these files already"
    );
}

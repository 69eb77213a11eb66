//! The text report fits the terminal (issue 15): at 80, 120 and 200
//! columns no line of `analyze`, `check`, `diff`, `pull` or `optimize` is
//! wider than the width and no path is broken inside a component;
//! `--no-trunc` shows `created by` in full; colour only when asked for; and
//! once in a real 80-column terminal (tmux).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use layerscope::fixture::{Image, image, layer, sized_file, whiteout};

use crate::support::tmux::Tmux;
use crate::support::{Run, layerscope, run_cmd};

/// Long names that must show whole (or not at all) at every width.
const NAMES: [&str; 5] = [
    "libopenblas64_p-r0-0cf96a72.3.23.dev.so",
    "some-environment-name",
    "a_quite_long_header_file_name_for_tests.h",
    "com_google_absl",
    "torch-2.3.0-cp311-cp311-linux_x86_64.whl",
];

const LIB: &str =
    "usr/local/lib/python3.11/site-packages/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so";
const HEADER: &str = "opt/conda/envs/some-environment-name/lib/python3.11/site-packages/tensorflow/include/external/com_google_absl/absl/strings/internal/str_format/a_quite_long_header_file_name_for_tests.h";

/// 218 characters of history, no `/bin/sh -c` or `# buildkit` to trim.
const CREATED: &str = "RUN apt-get update && apt-get install -y python3 python3-pip python3-dev python3-numpy python3-scipy python3-pandas python3-matplotlib build-essential libopenblas-dev liblapack-dev gfortran && rm -rf /var/lib/apt/lists/*";

/// Long paths in deep directories, a wheel copied in and deleted later
/// (shadowed, a finding), and a long `created by`.
fn long() -> Image {
    image(vec![
        layer(vec![
            sized_file(LIB, 40_000, 1),
            sized_file(HEADER, 9_000, 2),
        ])
        .created_by(CREATED),
        layer(vec![sized_file(
            "wheels/torch-2.3.0-cp311-cp311-linux_x86_64.whl",
            25_000,
            3,
        )])
        .created_by("COPY wheels/ /wheels/ # buildkit"),
        layer(vec![
            whiteout("wheels"),
            sized_file(
                "root/.cache/pip/http-v2/a/b/c/d/e/0123456789abcdef",
                15_000,
                4,
            ),
        ])
        .created_by("RUN /bin/sh -c rm -rf /wheels && pip install torch # buildkit"),
    ])
}

fn write(img: &Image, dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    img.write_oci_archive(&path, "latest").unwrap();
    path.display().to_string()
}

fn report(dir: &Path, columns: u16, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = layerscope();
    cmd.current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("NO_COLOR")
        .env("COLUMNS", columns.to_string())
        .envs(env.iter().copied())
        .args(args)
        .arg("--no-cache");
    let run = run_cmd(cmd);
    assert!(run.code == 0 || run.code == 1, "{args:?}: {}", run.stderr);
    run
}

/// Every line within `width`, and every long name whole where it shows.
fn assert_fits(out: &str, width: usize, what: &str) {
    for line in out.lines() {
        let n = line.chars().count();
        assert!(n <= width, "{what} at {width}: {n} columns:\n{line}\n{out}");
        for name in NAMES {
            // Its start or its end shown: then all of it.
            let start: String = name.chars().take(16).collect();
            let end: String = name
                .chars()
                .skip(name.chars().count().saturating_sub(12))
                .collect();
            if line.contains(&start) || line.contains(&end) {
                assert!(
                    line.contains(name),
                    "{what} at {width}: `{name}` broken:\n{line}\n{out}"
                );
            }
        }
    }
}

#[test]
fn every_report_fits_80_120_and_200_columns() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(&long(), dir.path(), "long.tar");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/python-ml.tar");
    let commands: Vec<(&str, Vec<&str>)> = vec![
        ("analyze", vec!["analyze", &img]),
        ("analyze sample", vec!["analyze", sample]),
        (
            "check",
            vec![
                "check",
                &img,
                "--max-shadowed",
                "1kB",
                "--max-layers",
                "1",
                "--max-finding",
                "pip-cache=0",
            ],
        ),
        ("diff", vec!["diff", sample, &img]),
        ("pull", vec!["pull", &img, sample]),
        ("optimize", vec!["optimize", &img]),
    ];
    for width in [80u16, 120, 200] {
        for (what, args) in &commands {
            let run = report(dir.path(), width, &[("NO_COLOR", "1")], args);
            assert_fits(&run.stdout, width as usize, what);
        }
    }
    // At 200 columns the library's path is whole; the header's (185
    // characters, beside the bytes and layer columns) loses `/opt` only.
    let run = report(dir.path(), 200, &[], &["analyze", &img]);
    assert!(run.stdout.contains(&format!("/{LIB}")), "{}", run.stdout);
    let rest = HEADER.strip_prefix("opt").unwrap();
    assert!(run.stdout.contains(&format!("/…{rest}")), "{}", run.stdout);
    // At 80 the long header path lost whole directories from its middle.
    let run = report(dir.path(), 80, &[], &["analyze", &img]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("a_quite_long_header"))
        .unwrap();
    assert!(line.contains("…/"), "{line}");
    assert!(!line.contains(HEADER), "{line}");
}

#[test]
fn summary_comes_first_with_the_top_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(&long(), dir.path(), "long.tar");
    let run = report(dir.path(), 80, &[], &["analyze", &img]);
    let s = &run.stdout;
    let fixes = s.find("Top fixes").unwrap();
    let layers = s.find("\nLayers").unwrap();
    assert!(s.starts_with("Image ") && fixes < layers, "{s}");
    // The wheel: 25,000 bytes copied in and deleted a layer later.
    let top = &s[fixes..layers];
    assert!(top.contains("25.0 kB  "), "{top}");
    assert!(top.contains("shadowed-files"), "{top}");
}

#[test]
fn no_trunc_shows_the_full_created_by() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(&long(), dir.path(), "long.tar");
    let run_default = report(dir.path(), 80, &[], &["analyze", &img]);
    assert!(
        !run_default.stdout.contains(CREATED),
        "{}",
        run_default.stdout
    );
    // Wrapped at word boundaries over at most three lines: the words
    // shown are whole, the rest is left out after `…`.
    let shown = &run_default.stdout;
    for word in ["python3-pip", "python3-numpy …"] {
        assert!(shown.contains(word), "{word}: {shown}");
    }
    assert!(!shown.contains("python3-scip"), "{shown}");
    let run_full = report(dir.path(), 80, &[], &["analyze", &img, "--no-trunc"]);
    assert!(run_full.stdout.contains(CREATED), "{}", run_full.stdout);
    assert!(run_full.stdout.contains(&format!("/{HEADER}")));
    let pull = report(dir.path(), 80, &[], &["pull", &img, "--no-trunc"]);
    assert!(pull.stdout.contains(CREATED), "{}", pull.stdout);
}

#[test]
fn colour_only_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(&long(), dir.path(), "long.tar");
    let check = [
        "check",
        img.as_str(),
        "--max-shadowed",
        "1kB",
        "--max-layers",
        "9",
    ];
    let mut args = check.to_vec();
    args.extend(["--color", "always"]);
    let coloured = report(dir.path(), 120, &[], &args);
    assert!(
        coloured.stdout.contains("\x1b[31mFAIL\x1b[0m"),
        "{}",
        coloured.stdout
    );
    assert!(
        coloured.stdout.contains("\x1b[32mPASS\x1b[0m"),
        "{}",
        coloured.stdout
    );
    // Colour codes never count towards the width.
    let analyze = report(dir.path(), 80, &[], &["analyze", &img, "--color", "always"]);
    assert!(analyze.stdout.contains("\x1b["), "{}", analyze.stdout);
    let plain: String = strip_ansi(&analyze.stdout);
    assert_fits(&plain, 80, "analyze --color always");
    // `--color never`, `NO_COLOR`, and auto off a terminal: none.
    let mut args = check.to_vec();
    args.extend(["--color", "never"]);
    assert!(!report(dir.path(), 120, &[], &args).stdout.contains('\x1b'));
    assert!(
        !report(dir.path(), 120, &[("NO_COLOR", "1")], &check)
            .stdout
            .contains('\x1b')
    );
    assert!(!report(dir.path(), 120, &[], &check).stdout.contains('\x1b'));
    let plain_analyze = report(dir.path(), 80, &[("NO_COLOR", "1")], &["analyze", &img]);
    assert!(!plain_analyze.stdout.contains('\x1b'));
    assert_eq!(plain, plain_analyze.stdout);
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn analyze_fits_a_real_80_column_terminal() {
    if !crate::support::require_tool("tmux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = write(&long(), dir.path(), "long.tar");
    // No `COLUMNS`: the width comes from the terminal itself.
    let command = format!(
        "env -u COLUMNS NO_COLOR=1 {} analyze --no-cache {img}; echo END-OF-REPORT; sleep 60",
        env!("CARGO_BIN_EXE_layerscope"),
    );
    let tmux = Tmux::start("text", 80, 50, &command);
    let _ = tmux.run(&["set-option", "-t", "x", "history-limit", "5000"]);
    let mut screen = String::new();
    for _ in 0..300 {
        screen = tmux.joined();
        if screen.contains("END-OF-REPORT") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(screen.contains("END-OF-REPORT"), "{screen}");
    assert!(screen.contains("Top fixes"), "{screen}");
    assert!(screen.contains("Largest files"), "{screen}");
    for line in screen.lines() {
        let n = line.chars().count();
        assert!(
            n <= 80,
            "a line wrapped at the edge ({n} columns):\n{line}\n{screen}"
        );
    }
}

//! `layerscope check`: every budget kind, the exit codes, config files and
//! their errors, and each report format validated against its schema.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

use layerscope::fixture::{self, Image, file, image, layer, owned, sized_file, whiteout};
use layerscope::scan::Compression;
use serde_json::Value;

use crate::support::{layerscope, require_tool, run_ok, testdata};

/// The checked image. By construction:
/// - layer 0 (the base): 30 000 + 100 bytes;
/// - layer 1: a 20 000-byte wheel, an 8 000-byte data file, a 5 000-byte
///   model, a 3 000-byte file under /opt/models;
/// - layer 2: deletes /wheels and /opt/models, chowns the data file.
///
/// Shadowed: 20 000 + 3 000 (deleted) + 8 000 (metadata rewrite) = 31 000.
/// Content over all layers: 30 100 + 36 000 + 8 000 = 74 100; final:
/// 30 100 + 8 000 + 5 000 = 43 100.
fn sample() -> Image {
    image(vec![
        layer(vec![
            sized_file("bin/busybox", 30_000, 1),
            file("etc/os-release", [b'x'; 100]),
        ])
        .created_by("ADD rootfs.tar /"),
        layer(vec![
            sized_file("wheels/torch.whl", 20_000, 3),
            sized_file("app/data.bin", 8_000, 4),
            sized_file("app/model/w.bin", 5_000, 5),
            sized_file("opt/models/m.bin", 3_000, 6),
        ])
        .created_by("COPY . /"),
        layer(vec![
            whiteout("wheels"),
            whiteout("opt/models"),
            owned(sized_file("app/data.bin", 8_000, 4), 1000),
        ])
        .created_by("RUN rm -rf /wheels /opt/models && chown -R app /app"),
    ])
}

const SHADOWED: u64 = 31_000;
const CONTENT: u64 = 74_100;
const FINAL: u64 = 43_100;

fn compressed(img: &Image, i: usize) -> u64 {
    img.layers[i].blob(Compression::Gzip).len() as u64
}

fn uncompressed(img: &Image, i: usize) -> u64 {
    img.layers[i].tar().len() as u64
}

struct Fixture {
    dir: tempfile::TempDir,
    image: PathBuf,
}

fn write(img: &Image, name: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join(name);
    img.write_oci_archive(&image, "latest").unwrap();
    Fixture { dir, image }
}

/// Runs `check --format json` with `args` in `cwd`; returns exit code and report.
fn check_in(cwd: &Path, image: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut cmd = layerscope();
    cmd.current_dir(cwd)
        .env_remove("GITHUB_ACTIONS")
        .arg("check")
        .arg(image)
        .args(["--no-cache", "--format", "json"])
        .args(args);
    let run = crate::support::run_cmd(cmd);
    (run.code, run.json(), run.stderr)
}

fn check(f: &Fixture, args: &[&str]) -> (i32, Value) {
    let (code, json, stderr) = check_in(f.dir.path(), &f.image, args);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    (code, json)
}

/// The one budget result of a report.
fn budget<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["check"]["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["budget"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn total_compressed_and_uncompressed() {
    let img = sample();
    let f = write(&img, "img.tar");
    let total: u64 = (0..3).map(|i| compressed(&img, i)).sum();
    let (code, r) = check(&f, &["--max-compressed", &total.to_string()]);
    assert_eq!(code, 0);
    assert_eq!(budget(&r, "max-compressed")["value"], total);
    let (code, r) = check(&f, &["--max-compressed", &(total - 1).to_string()]);
    assert_eq!(code, 1);
    assert_eq!(budget(&r, "max-compressed")["passed"], false);
    assert_eq!(r["check"]["passed"], false);

    let total: u64 = (0..3).map(|i| uncompressed(&img, i)).sum();
    let (code, r) = check(&f, &["--max-uncompressed", &total.to_string()]);
    assert_eq!(
        (code, budget(&r, "max-uncompressed")["value"].as_u64()),
        (0, Some(total))
    );
    let (code, _) = check(&f, &["--max-uncompressed", &(total - 1).to_string()]);
    assert_eq!(code, 1);
}

#[test]
fn largest_layer_and_layer_count() {
    let img = sample();
    let f = write(&img, "img.tar");
    let largest = (0..3).map(|i| compressed(&img, i)).max().unwrap();
    let (code, r) = check(
        &f,
        &[
            "--max-layer",
            &(largest - 1).to_string(),
            "--max-layers",
            "3",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(budget(&r, "max-layer")["value"], largest);
    assert_eq!(budget(&r, "max-layers")["value"], 3);
    assert_eq!(budget(&r, "max-layers")["passed"], true);
    let (code, r) = check(&f, &["--max-layers", "2"]);
    assert_eq!(
        (code, budget(&r, "max-layers")["passed"].as_bool()),
        (1, Some(false))
    );
}

#[test]
fn shadowed_bytes_ignore_globs_and_contributors() {
    let f = write(&sample(), "img.tar");
    let (code, r) = check(&f, &["--max-shadowed", &SHADOWED.to_string()]);
    assert_eq!(
        (code, budget(&r, "max-shadowed")["value"].as_u64()),
        (0, Some(SHADOWED))
    );
    let (code, r) = check(&f, &["--max-shadowed", "30999"]);
    assert_eq!(code, 1);
    let names: Vec<&str> = budget(&r, "max-shadowed")["contributors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["/wheels/torch.whl", "/app/data.bin", "/opt/models/m.bin"]
    );
    let (code, r) = check(
        &f,
        &["--max-shadowed", "30999", "--ignore", "/opt/models/**"],
    );
    assert_eq!(
        (code, budget(&r, "max-shadowed")["value"].as_u64()),
        (0, Some(SHADOWED - 3_000))
    );
}

#[test]
fn failure_message_names_budget_limit_value_and_contributors() {
    let f = write(&sample(), "img.tar");
    let out = layerscope()
        .env_remove("GITHUB_ACTIONS")
        .args(["check", "--no-cache", "--max-shadowed", "30999", "--binary"])
        .arg(&f.image)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    // 31 000 B = 30.3 KiB, 30 999 B = 30.3 KiB; contributors 20 000 / 8 000 / 3 000 B.
    assert!(
        text.contains(
            "FAIL  budget `max-shadowed` failed: shadowed bytes is 30.3 KiB, over the limit of 30.3 KiB; top contributors:\n      \
             /wheels/torch.whl (19.5 KiB), /app/data.bin (7.8 KiB), /opt/models/m.bin (2.9 KiB)"
        ),
        "{text}"
    );
    assert!(text.contains("1 of 1 budgets failed"), "{text}");
    assert!(
        text.contains("Top findings\n    22.5 KiB  shadowed-files           /wheels/torch.whl\n"),
        "{text}"
    );
}

#[test]
fn efficiency_and_base_layers() {
    let img = sample();
    let f = write(&img, "img.tar");
    let (code, r) = check(&f, &["--min-efficiency", "58%"]);
    let expected = FINAL as f64 / CONTENT as f64; // 0.5816...
    assert_eq!(
        (code, budget(&r, "min-efficiency")["value"].as_f64()),
        (0, Some(expected))
    );
    let (code, _) = check(&f, &["--min-efficiency", "0.59"]);
    assert_eq!(code, 1);

    // Accepting layer 0: content 36 000 + 8 000, final 8 000 + 5 000.
    let (code, r) = check(
        &f,
        &[
            "--min-efficiency",
            "0.29",
            "--base-layers",
            "1",
            "--max-compressed",
            "1GB",
            "--max-layers",
            "2",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(r["check"]["base_layers"], 1);
    assert_eq!(
        budget(&r, "min-efficiency")["value"].as_f64(),
        Some(13_000.0 / 44_000.0)
    );
    assert_eq!(
        budget(&r, "max-compressed")["value"],
        compressed(&img, 1) + compressed(&img, 2)
    );
    assert_eq!(budget(&r, "max-layers")["value"], 2);
}

#[test]
fn base_image_layers_are_accepted() {
    let img = sample();
    let f = write(&img, "img.tar");
    let base = image(vec![img.layers[0].clone()]);
    let base_path = f.dir.path().join("base.tar");
    base.write_oci_archive(&base_path, "base").unwrap();
    let (code, r) = check(
        &f,
        &[
            "--base",
            base_path.to_str().unwrap(),
            "--max-uncompressed",
            "1",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(r["check"]["base_layers"], 1);
    assert_eq!(
        budget(&r, "max-uncompressed")["value"],
        uncompressed(&img, 1) + uncompressed(&img, 2)
    );
}

#[test]
fn finding_kind_budgets_and_ignored_kinds() {
    let f = write(&sample(), "img.tar");
    let (code, r) = check(
        &f,
        &[
            "--max-finding",
            "metadata-rewrite=7999",
            "--max-finding",
            "shadowed-files=23000",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(budget(&r, "findings.metadata-rewrite")["value"], 8_000);
    assert_eq!(budget(&r, "findings.shadowed-files")["value"], 23_000);
    assert_eq!(budget(&r, "findings.shadowed-files")["passed"], true);
    let (code, r) = check(
        &f,
        &[
            "--max-finding",
            "metadata-rewrite=0",
            "--ignore-kind",
            "metadata-rewrite",
        ],
    );
    assert_eq!(
        (
            code,
            budget(&r, "findings.metadata-rewrite")["value"].as_u64()
        ),
        (0, Some(0))
    );
}

#[test]
fn distribution_budget_naming_nothing_is_an_error() {
    // A budget on a distribution the image does not have would hold
    // forever at 0 bytes: a typo must not pass silently (issue 16).
    let f = write(&sample(), "img.tar");
    let (code, _, stderr) = check_in(f.dir.path(), &f.image, &["--max-distribution", "Torch=0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("distribution budget for `torch`, which the image does not have"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the image has no Python distributions"),
        "{stderr}"
    );
}

/// The sample with layer 2 grown by a 10 000-byte log and a new layer 3.
fn grown() -> Image {
    let mut img = sample();
    img.layers[2]
        .items
        .push(sized_file("var/log/build.log", 10_000, 9));
    img.layers
        .push(layer(vec![sized_file("srv/extra.bin", 4_000, 10)]));
    img
}

#[test]
fn growth_against_a_baseline() {
    let (old, new) = (sample(), grown());
    let f = write(&new, "new.tar");
    let baseline = f.dir.path().join("old.tar");
    old.write_oci_archive(&baseline, "old").unwrap();
    let total = |img: &Image| {
        (0..img.layers.len())
            .map(|i| compressed(img, i) as i64)
            .sum::<i64>()
    };
    let growth = total(&new) - total(&old);
    let layer2 = compressed(&new, 2) as i64 - compressed(&old, 2) as i64;
    let layer3 = compressed(&new, 3) as i64;
    let (code, r) = check(
        &f,
        &[
            "--baseline",
            baseline.to_str().unwrap(),
            "--max-growth",
            &growth.to_string(),
            "--max-layer-growth",
            "1",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(budget(&r, "growth.compressed")["value"], growth);
    assert_eq!(budget(&r, "growth.compressed")["passed"], true);
    assert_eq!(budget(&r, "growth.layer")["value"], layer2.max(layer3));
    assert_eq!(
        r["check"]["growth"]["layers"]["added"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Growth budgets without a baseline are a usage error.
    let (code, _, stderr) = check_in(f.dir.path(), &f.image, &["--max-growth", "1MB"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--baseline"), "{stderr}");
}

#[test]
fn exit_codes() {
    let f = write(&sample(), "img.tar");
    assert_eq!(check(&f, &["--max-layers", "9"]).0, 0);
    // No budget at all holds trivially, and says so.
    let out = layerscope()
        .env_remove("GITHUB_ACTIONS")
        .args(["check", "--no-cache"])
        .arg(&f.image)
        .current_dir(f.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No budgets set"));
    assert_eq!(check(&f, &["--max-layers", "1"]).0, 1);
    let (code, _, stderr) = check_in(f.dir.path(), &f.image, &["--max-compressed", "12 parsecs"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--max-compressed: `12 parsecs` is not a size"),
        "{stderr}"
    );
    let (code, _, _) = check_in(f.dir.path(), &f.image, &["--max-finding", "pip-cash=0"]);
    assert_eq!(code, 2);
    let (code, _, _) = check_in(f.dir.path(), &f.image, &["--output", "pdf=x.pdf"]);
    assert_eq!(code, 2);
    let missing = format!("oci-archive:{}", f.dir.path().join("missing.tar").display());
    let (code, _, stderr) = check_in(f.dir.path(), Path::new(&missing), &["--max-layers", "1"]);
    assert_eq!(code, 3, "{stderr}");
    let corrupt = f.dir.path().join("corrupt.tar");
    std::fs::write(&corrupt, b"not a tar at all").unwrap();
    let (code, _, stderr) = check_in(f.dir.path(), &corrupt, &["--max-layers", "1"]);
    assert_eq!(code, 3, "{stderr}");
}

#[test]
fn config_files() {
    let f = write(&sample(), "img.tar");
    let cwd = f.dir.path();
    std::fs::write(
        cwd.join("layerscope.toml"),
        "max-layers = 2\n[findings]\nmetadata-rewrite = \"8kB\"\n",
    )
    .unwrap();
    let (code, r, _) = check_in(cwd, &f.image, &[]);
    assert_eq!(code, 1);
    assert_eq!(budget(&r, "max-layers")["limit"], 2);
    assert_eq!(budget(&r, "findings.metadata-rewrite")["limit"], 8_000);
    // Flags override the file.
    let (code, _, _) = check_in(cwd, &f.image, &["--max-layers", "3"]);
    assert_eq!(code, 0);
    // --config FILE wins over ./layerscope.toml.
    std::fs::write(cwd.join("other.toml"), "max-shadowed = 31000\n").unwrap();
    let (code, r, _) = check_in(cwd, &f.image, &["--config", "other.toml"]);
    assert_eq!(
        (code, r["check"]["budgets"].as_array().unwrap().len()),
        (0, 1)
    );
    // pyproject.toml when there is no layerscope.toml.
    std::fs::remove_file(cwd.join("layerscope.toml")).unwrap();
    std::fs::write(
        cwd.join("pyproject.toml"),
        "[project]\nname = \"app\"\n\n[tool.layerscope]\nmax-shadowed = \"30kB\"\n",
    )
    .unwrap();
    let (code, r, _) = check_in(cwd, &f.image, &[]);
    assert_eq!(
        (code, budget(&r, "max-shadowed")["limit"].as_u64()),
        (1, Some(30_000))
    );
}

#[test]
fn config_errors_name_key_and_line() {
    let f = write(&sample(), "img.tar");
    let cwd = f.dir.path();
    std::fs::write(
        cwd.join("layerscope.toml"),
        "max-layers = 2\n\n[growth]\ntotal = \"1MB\"\n",
    )
    .unwrap();
    let (code, _, stderr) = check_in(cwd, &f.image, &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("layerscope.toml` line 4: unknown key `total`, expected one of"),
        "{stderr}"
    );
    std::fs::write(cwd.join("bad.toml"), "max-layer = \"lots\"\n").unwrap();
    let (code, _, stderr) = check_in(cwd, &f.image, &["--config", "bad.toml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`bad.toml` line 1: `max-layer`: `lots` is not a size"),
        "{stderr}"
    );
    let (code, _, stderr) = check_in(cwd, &f.image, &["--config", "absent.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("absent.toml"), "{stderr}");
}

/// Validates `instance` against the JSON schema `schema` with Python's
/// `jsonschema` (from PyPI). Returns false when unavailable off CI.
fn validate(schema: &Path, instance: &Path) -> bool {
    if !require_tool("python3") {
        return false;
    }
    let has = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        panic!("Python `jsonschema` is required with --features tools (pip install jsonschema)");
    }
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))\n\
                  jsonschema.validators.validator_for(schema)(schema).validate(doc)\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(schema)
        .arg(instance)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not validate against {}: {}",
        instance.display(),
        schema.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// The Dockerfile of [`sample`]: layer 0 comes from the base image.
const DOCKERFILE: &str =
    "FROM base:1\nCOPY . /\nRUN rm -rf /wheels /opt/models && chown -R app /app\n";

fn all_outputs(f: &Fixture, extra: &[&str]) -> (i32, PathBuf) {
    let out_dir = f.dir.path().join("reports");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(f.dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    let arg = |fmt: &str, name: &str| format!("{fmt}={}", out_dir.join(name).display());
    let out = layerscope()
        .current_dir(f.dir.path())
        .env_remove("GITHUB_ACTIONS")
        .args([
            "check",
            "--no-cache",
            "--max-shadowed",
            "30999",
            "--max-layers",
            "3",
            "--dockerfile",
            "Dockerfile",
        ])
        .arg(&f.image)
        .args([
            "--output",
            &arg("json", "r.json"),
            "--output",
            &arg("sarif", "r.sarif"),
            "--output",
            &arg("junit", "r.xml"),
        ])
        .args([
            "--output",
            &arg("markdown", "r.md"),
            "--output",
            &arg("text", "r.txt"),
        ])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code().unwrap(), out_dir)
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn json_and_sarif_validate_against_their_schemas() {
    let f = write(&sample(), "img.tar");
    let (code, dir) = all_outputs(&f, &[]);
    assert_eq!(code, 1);
    let json: Value = serde_json::from_slice(&std::fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], "layerscope/analysis/v1");
    assert_eq!(json["image"]["shadowed_bytes"], SHADOWED);
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(dir.join("r.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    // The Dockerfile's FROM accounts for layer 0.
    assert_eq!(json["check"]["base_layers"], 1);
    // Three findings (the deleted wheel is also a left-over wheel) and one
    // failed budget.
    let rules: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    // The base is named by tag, so the drift finding `unpinned-base` (the
    // base layer's bytes at stake, on the FROM line) leads.
    assert_eq!(
        rules,
        [
            "unpinned-base",
            "shadowed-files",
            "leftover-wheel",
            "metadata-rewrite",
            "budget/max-shadowed"
        ],
        "{sarif:#}"
    );
    let location = |i: usize| &results[i]["locations"][0]["physicalLocation"];
    assert_eq!(location(0)["region"]["startLine"], 1);
    assert_eq!(location(1)["artifactLocation"]["uri"], "Dockerfile");
    assert_eq!(results[1]["properties"]["bytes"], 23_000);
    // Every size finding sits on a line of the final stage (COPY is line 2, RUN line 3).
    for i in 1..4 {
        let line = location(i)["region"]["startLine"].as_u64().unwrap();
        assert!(line == 2 || line == 3, "{sarif:#}");
    }
    let text = std::fs::read_to_string(dir.join("r.txt")).unwrap();
    assert!(
        text.contains("FAIL  budget `max-shadowed` failed"),
        "{text}"
    );
    validate(
        &testdata("schemas/analysis-v1.schema.json"),
        &dir.join("r.json"),
    );
    validate(
        &testdata("schemas/sarif-schema-2.1.0.json"),
        &dir.join("r.sarif"),
    );
}

#[test]
fn junit_parses_back_with_one_case_per_budget() {
    use quick_xml::events::Event;
    let f = write(&sample(), "img.tar");
    let (_, dir) = all_outputs(&f, &[]);
    let xml = std::fs::read_to_string(dir.join("r.xml")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut suites) = (Vec::new(), Vec::new(), 0);
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &[u8]| {
                    e.attributes()
                        .map(|a| a.unwrap())
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                match e.name().as_ref() {
                    b"testsuite" => {
                        suites += 1;
                        assert_eq!(attr(b"tests").as_deref(), Some("2"));
                        assert_eq!(attr(b"failures").as_deref(), Some("1"));
                    }
                    b"testcase" => cases.push(attr(b"name").unwrap()),
                    b"failure" => failures.push(attr(b"message").unwrap()),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, 1);
    assert_eq!(cases, ["max-layers", "max-shadowed"]);
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].starts_with("budget `max-shadowed` failed"),
        "{}",
        failures[0]
    );
}

#[test]
fn markdown_comment_has_budgets_findings_and_growth() {
    let (old, new) = (sample(), grown());
    let f = write(&new, "new.tar");
    let baseline = f.dir.path().join("old.tar");
    old.write_oci_archive(&baseline, "old").unwrap();
    // The grown image no longer matches the sample's Dockerfile: name the base.
    let (_, dir) = all_outputs(
        &f,
        &[
            "--baseline",
            baseline.to_str().unwrap(),
            "--binary",
            "--base-layers",
            "1",
        ],
    );
    let md = std::fs::read_to_string(dir.join("r.md")).unwrap();
    assert!(
        md.starts_with("## layerscope: ❌ 1 of 2 budgets failed"),
        "{md}"
    );
    assert!(
        md.contains(
            "| `max-layers` | number of layers, base layers excluded | ≤ 3 | 3 | ✅ pass |"
        ),
        "{md}"
    );
    assert!(
        md.contains("The first layer (the base image) is accepted as it is."),
        "{md}"
    );
    assert!(md.contains("| `shadowed-files` | 22.5 KiB |"), "{md}"); // 23 000 B
    assert!(md.contains("### Growth since `"), "{md}");
    assert!(md.contains("2 layers shared, 2 added, 1 removed"), "{md}");
    // /var grew by the 10 000-byte log: 9.8 KiB.
    assert!(md.contains("| `/var` | +9.8 KiB |"), "{md}");
}

#[test]
fn github_actions_summary_and_annotations() {
    let f = write(&sample(), "img.tar");
    let summary = f.dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = layerscope()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "check",
            "--no-cache",
            "--max-shadowed",
            "30999",
            "--max-layers",
            "3",
        ])
        .arg(&f.image)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout
            .contains("::error title=layerscope budget max-shadowed::budget `max-shadowed` failed"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("::error title=layerscope budget max-layers"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n## layerscope: ❌ 1 of 2 budgets failed"),
        "{md}"
    );
}

#[test]
fn fixture_sizes_are_what_the_tests_assume() {
    // Guards the constants above against fixture changes.
    let img = sample();
    let content: usize = img
        .layers
        .iter()
        .flat_map(|l| &l.items)
        .map(|i| {
            if let fixture::Item::File { data, .. } = i {
                data.len()
            } else {
                0
            }
        })
        .sum();
    assert_eq!(content as u64, CONTENT);
}

/// Runs a command, panicking with its output when it fails.
#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn real_image_built_with_buildah() {
    if !(require_tool("buildah")
        && require_tool("podman")
        && require_tool("skopeo")
        && require_tool("busybox"))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let runroot = dir.path().join("run");
    let store = |tool: &str| {
        let mut c = Command::new(tool);
        c.arg("--root")
            .arg(&root)
            .arg("--runroot")
            .arg(&runroot)
            .arg("--storage-driver")
            .arg("vfs");
        c
    };
    // A busybox base, imported without network.
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    let busybox = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v busybox"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::copy(busybox.trim(), rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "mkdir", "dd", "rm", "chown"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let base_tar = dir.path().join("rootfs.tar");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&base_tar)
            .arg("."),
    );
    run_ok(
        store("podman")
            .args(["import"])
            .arg(&base_tar)
            .arg("localhost/ls-check-base:1"),
    );
    // 1 MiB wheel deleted by a later layer, 2 MiB model chowned: 3 MiB shadowed.
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/ls-check-base:1\n\
         RUN mkdir -p /wheels /app && dd if=/dev/urandom of=/wheels/x.whl bs=1048576 count=1 && dd if=/dev/urandom of=/app/model.bin bs=1048576 count=2\n\
         RUN rm -rf /wheels\n\
         RUN chown -R 1000 /app\n",
    )
    .unwrap();
    run_ok(
        store("buildah")
            .args([
                "bud",
                "-q",
                "--layers",
                "--isolation",
                "chroot",
                "-t",
                "localhost/ls-check:1",
            ])
            .arg(&ctx),
    );
    let archive = dir.path().join("image.tar");
    let storage = format!(
        "containers-storage:[vfs@{}+{}]localhost/ls-check:1",
        root.display(),
        runroot.display()
    );
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        &storage,
        &format!("oci-archive:{}:1", archive.display()),
    ]));

    const MIB: u64 = 1 << 20;
    let (code, r, stderr) = check_in(
        dir.path(),
        &archive,
        &[
            "--max-shadowed",
            &(3 * MIB).to_string(),
            "--max-finding",
            "metadata-rewrite=2MiB",
            "--base-layers",
            "1",
            "--max-layers",
            "3",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(budget(&r, "max-shadowed")["value"], 3 * MIB);
    assert_eq!(budget(&r, "findings.metadata-rewrite")["value"], 2 * MIB);
    let (code, r, _) = check_in(
        dir.path(),
        &archive,
        &["--max-shadowed", &(3 * MIB - 1).to_string()],
    );
    assert_eq!(code, 1);
    let names: Vec<&str> = budget(&r, "max-shadowed")["contributors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/app/model.bin", "/wheels/x.whl"]);
    // Storage under vfs is owned by root and holds read-only files; remove it with buildah.
    let _ = store("buildah").args(["rmi", "--all", "--force"]).output();
}

const SITE: &str = "usr/local/lib/python3.11/site-packages";

/// A base layer and a layer installing torch `version` whose RECORD lists
/// a 100-byte `__init__.py` and a `lib_size`-byte `libtorch.so`: the
/// distribution's bytes are `100 + lib_size`.
pub(crate) fn torch_image(version: &str, lib_size: usize) -> Image {
    let di = format!("{SITE}/torch-{version}.dist-info");
    let record = "torch/__init__.py,,\ntorch/lib/libtorch.so,,\n";
    image(vec![
        layer(vec![sized_file("bin/busybox", 30_000, 1)]).created_by("ADD rootfs.tar /"),
        layer(vec![
            sized_file(format!("{SITE}/torch/__init__.py"), 100, 2),
            sized_file(format!("{SITE}/torch/lib/libtorch.so"), lib_size, 3),
            file(
                format!("{di}/METADATA"),
                format!("Metadata-Version: 2.1\nName: torch\nVersion: {version}\n\n"),
            ),
            file(format!("{di}/RECORD"), record),
        ])
        .created_by("RUN pip install torch"),
    ])
}

#[test]
fn distribution_budgets_and_growth() {
    let f = write(&torch_image("2.2.0", 50_000), "new.tar");
    let (code, r) = check(&f, &["--max-distribution", "torch=50100"]);
    assert_eq!(
        (code, budget(&r, "distributions.torch")["value"].as_u64()),
        (0, Some(50_100))
    );
    let (code, r) = check(&f, &["--max-distribution", "Torch=50099"]);
    assert_eq!(code, 1);
    let who = budget(&r, "distributions.torch")["contributors"][0]["name"].clone();
    assert_eq!(who, format!("torch 2.2.0 in /{SITE}"), "{}", r["python"]);
    let baseline = f.dir.path().join("old.tar");
    torch_image("2.1.0", 40_000)
        .write_oci_archive(&baseline, "old")
        .unwrap();
    let (code, r) = check(
        &f,
        &[
            "--baseline",
            baseline.to_str().unwrap(),
            "--max-distribution-growth",
            "9999",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(budget(&r, "growth.distribution")["value"], 10_000);
    let upgraded = &r["check"]["growth"]["distributions"]["upgraded"][0];
    assert_eq!(
        (
            &upgraded["old_version"],
            &upgraded["new_version"],
            &upgraded["delta"]
        ),
        (
            &Value::from("2.1.0"),
            &Value::from("2.2.0"),
            &Value::from(10_000)
        )
    );
}

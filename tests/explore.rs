//! The terminal browser: screens drawn on ratatui's `TestBackend` after
//! keys, on an image whose figures follow from its construction; and once
//! in a real terminal (tmux).
#![allow(clippy::unwrap_used)]

use layerscope::analyze::{self, Analysis};
use layerscope::explore::{App, view};
use layerscope::fixture::{self, file, layer, owned, sized_file, whiteout};
use layerscope::model::Image;
use layerscope::pipeline::{self, Settings};
use layerscope::report::units::Units;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};

use crate::support::tmux::Tmux;

const CREATED: &str = "RUN /bin/sh -c apt-get install -y python3 python3-pip python3-dev python3-numpy python3-scipy && pip install --no-cache-dir wheels/*.whl # buildkit";

/// Layer 0 writes a lib, a config, a wheel; layer 1 deletes the wheel
/// (5,000 shadowed bytes), chowns the config (metadata-only) and adds the
/// app.
fn fixture() -> fixture::Image {
    fixture::image(vec![
        layer(vec![
            sized_file("usr/lib/libfoo.so", 40_000, 1),
            sized_file("usr/lib/libbar.so", 2_000, 2),
            file("etc/app.conf", b"key = value\n"),
            sized_file("wheels/numpy-2.0-cp311.whl", 5_000, 3),
        ])
        .created_by(CREATED),
        layer(vec![
            whiteout("wheels"),
            owned(file("etc/app.conf", b"key = value\n"), 1000),
            sized_file("app/main.py", 300, 4),
        ])
        .created_by("COPY . /app # buildkit"),
    ])
}

fn load() -> (Image, Analysis) {
    let dir = tempfile::tempdir().unwrap();
    fixture().write_oci_dir(dir.path(), "t").unwrap();
    let (image, stats) = pipeline::load(
        &format!("oci:{}", dir.path().display()),
        &Settings::default(),
    )
    .unwrap();
    let analysis = analyze::run(&image, &Default::default(), stats);
    (image, analysis)
}

fn key(app: &mut App, code: KeyCode) {
    app.update(KeyEvent::new(code, KeyModifiers::NONE));
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn screen(app: &mut App, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
    app.heights = view::heights(Rect::new(0, 0, w, h), app.image.layers.len());
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..h {
        for x in 0..w {
            text.push_str(buf[(x, y)].symbol());
        }
        text.push('\n');
    }
    (text, buf)
}

fn si(b: u64) -> String {
    Units::Si.bytes(b)
}

#[test]
fn opens_on_layers_and_the_final_filesystem_at_80x24() {
    let (image, analysis) = load();
    let mut app = App::new(&image, &analysis, false);
    let (s, _) = screen(&mut app, 80, 24);
    // Final: 40,000 + 2,000 + 12 + 300; shadowed: the wheel.
    assert!(s.contains(&format!("final {}", si(42_312))), "{s}");
    assert!(s.contains(&format!("shadowed {}", si(5_000))), "{s}");
    assert!(s.contains("layers (2)"), "{s}");
    assert!(s.contains("RUN /bin/sh -c apt-get"), "{s}");
    // The tree: top-level directories with their sums, in path order.
    assert!(s.contains("final filesystem"), "{s}");
    let usr = s.lines().find(|l| l.contains("▸ usr")).unwrap();
    assert!(usr.contains(&si(42_000)), "{usr}");
    assert!(s.contains("▸ etc"), "{s}");
    assert!(!s.contains("▸ wheels"), "{s}");
    // Keys on the last line; no line wider than the screen.
    assert!(s.lines().last().unwrap().contains("q quit"), "{s}");
    assert!(s.lines().all(|l| l.chars().count() == 80));
    // The selected layer's history in full, in the details.
    let (s, _) = screen(&mut app, 200, 40);
    assert!(s.contains(CREATED), "{s}");
}

#[test]
fn layer_view_marks_added_removed_and_metadata_only() {
    let (image, analysis) = load();
    let mut app = App::new(&image, &analysis, false);
    key(&mut app, KeyCode::Down); // layer 1
    key(&mut app, KeyCode::Enter); // its files
    key(&mut app, KeyCode::Char('e')); // expand all
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("layer 1"), "{s}");
    let line = |name: &str| s.lines().find(|l| l.contains(name)).unwrap().to_owned();
    assert!(line("main.py").contains("│+ "), "{s}");
    assert!(line("app.conf").contains("│= "), "{s}");
    assert!(line("wheels").contains("│- "), "{s}");
    // Layer 0: the wheel it wrote is shadowed (still shipped).
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('e'));
    let (s, _) = screen(&mut app, 80, 24);
    let wheel = s.lines().find(|l| l.contains("numpy-2.0")).unwrap();
    assert!(wheel.contains("│+!"), "{s}");
    assert!(wheel.contains(&si(5_000)), "{s}");
    let wheels = s.lines().find(|l| l.contains("▾ wheels")).unwrap();
    assert!(wheels.contains(&si(5_000)), "{s}");
}

#[test]
fn a_finding_jumps_to_its_files_with_its_fix() {
    let (image, analysis) = load();
    let i = analysis
        .findings
        .iter()
        .position(|f| f.kind == analyze::FindingKind::ShadowedFiles)
        .unwrap();
    let mut app = App::new(&image, &analysis, false);
    key(&mut app, KeyCode::Char('3'));
    for _ in 0..i {
        key(&mut app, KeyCode::Down);
    }
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("shadowed-files"), "{s}");
    assert!(s.contains("fix:"), "{s}");
    key(&mut app, KeyCode::Enter);
    let (s, _) = screen(&mut app, 80, 24);
    // The wheel lives in layer 0 only: the tree shows that layer, filtered.
    assert!(s.contains("layer 0 [finding shadowed-files]"), "{s}");
    assert!(s.contains("numpy-2.0-cp311.whl"), "{s}");
    assert!(!s.contains("libfoo"), "{s}");
    assert!(s.contains("1 files match"), "{s}");
    key(&mut app, KeyCode::Char('x'));
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("libfoo") || s.contains("▸ usr"), "{s}");
}

#[test]
fn filters_search_and_size_threshold() {
    let (image, analysis) = load();
    let mut app = App::new(&image, &analysis, false);
    key(&mut app, KeyCode::Char('/'));
    keys(&mut app, "CONF");
    key(&mut app, KeyCode::Enter);
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("app.conf"), "{s}");
    assert!(!s.contains("usr"), "{s}");
    key(&mut app, KeyCode::Char('x'));
    // >= 1 MB: nothing here is that big.
    key(&mut app, KeyCode::Char('s'));
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("nothing matches"), "{s}");
    key(&mut app, KeyCode::Char('x'));
    // Changed only: the files layer 1 wrote, in the final filesystem.
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('c'));
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("main.py") && s.contains("app.conf"), "{s}");
    assert!(!s.contains("libfoo"), "{s}");
    // Collapse and expand.
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('E'));
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("▸ app") && !s.contains("main.py"), "{s}");
    key(&mut app, KeyCode::Right);
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("▾ app") && s.contains("main.py"), "{s}");
}

#[test]
fn search_counts_matches_as_it_is_typed() {
    let (image, analysis) = load();
    let mut app = App::new(&image, &analysis, false);
    key(&mut app, KeyCode::Char('/'));
    // `LIB`: both libraries (40,000 + 2,000 bytes), ASCII case ignored.
    keys(&mut app, "LIB");
    assert_eq!(
        app.status,
        format!("2 paths hold `LIB`, {} (Enter shows them)", si(42_000))
    );
    // Narrowed from the last matches.
    keys(&mut app, "f");
    assert_eq!(
        app.status,
        format!("1 paths hold `LIBf`, {} (Enter shows them)", si(40_000))
    );
    // Back to `LIB`: not a narrowing, searched again.
    key(&mut app, KeyCode::Backspace);
    assert!(
        app.status.starts_with("2 paths hold `LIB`"),
        "{}",
        app.status
    );
    key(&mut app, KeyCode::Enter);
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("libfoo.so") && s.contains("libbar.so"), "{s}");
    assert!(!s.contains("app.conf"), "{s}");
}

#[test]
fn no_color_draws_no_colour_and_help_fits() {
    let (image, analysis) = load();
    let mut app = App::new(&image, &analysis, false);
    key(&mut app, KeyCode::Char('3'));
    let (_, buf) = screen(&mut app, 80, 24);
    for cell in buf.content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
    }
    // The selection still shows: reverse video.
    assert!(
        buf.content()
            .iter()
            .any(|c| c.modifier.contains(Modifier::REVERSED))
    );
    key(&mut app, KeyCode::Char('?'));
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("+ added  ~ modified"), "{s}");
    key(&mut app, KeyCode::Char('z'));
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
    // With colour on, findings and marks are coloured.
    let mut app = App::new(&image, &analysis, true);
    let (_, buf) = screen(&mut app, 80, 24);
    assert!(buf.content().iter().any(|c| c.fg != Color::Reset));
}

#[test]
fn empty_directories_show_with_zero_bytes() {
    // Before: only files made the tree, so `var/empty` and `srv` vanished.
    let dir = tempfile::tempdir().unwrap();
    fixture::image(vec![layer(vec![
        fixture::dir("srv"),
        fixture::dir("var"),
        fixture::dir("var/empty"),
        sized_file("var/log.txt", 700, 1),
    ])])
    .write_oci_dir(dir.path(), "t")
    .unwrap();
    let (image, stats) = pipeline::load(
        &format!("oci:{}", dir.path().display()),
        &Settings::default(),
    )
    .unwrap();
    let analysis = analyze::run(&image, &Default::default(), stats);
    let mut app = App::new(&image, &analysis, false);
    key(&mut app, KeyCode::Char('2')); // the tree
    key(&mut app, KeyCode::Char('e')); // expand all
    let (s, _) = screen(&mut app, 80, 24);
    let line = |name: &str| {
        s.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in\n{s}"))
            .to_owned()
    };
    assert!(line("srv").contains(&si(0)), "{s}");
    assert!(line("empty").contains(&si(0)), "{s}");
    assert!(line("var").contains(&si(700)), "{s}");
    // The layer's own tree too.
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('e'));
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("empty"), "{s}");
    assert!(s.contains("srv"), "{s}");
}

#[test]
fn explore_runs_in_a_real_terminal() {
    if !crate::support::require_tool("tmux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fixture().write_oci_dir(dir.path(), "t").unwrap();
    let command = format!(
        "env NO_COLOR=1 {} explore --no-cache oci:{}",
        env!("CARGO_BIN_EXE_layerscope"),
        dir.path().display()
    );
    let tmux = Tmux::start("explore", 80, 24, &command);
    let s = tmux.wait_for("layers (2)");
    assert!(s.contains(&format!("final {}", si(42_312))), "{s}");
    // Layer 1's files, expanded.
    tmux.run(&["send-keys", "-t", "x", "Down", "Enter", "e"]);
    let s = tmux.wait_for("main.py");
    assert!(s.contains("layer 1"), "{s}");
    assert!(
        s.lines().any(|l| l.contains("+ ") && l.contains("main.py")),
        "{s}"
    );
    // q quits: the session ends with the program.
    tmux.run(&["send-keys", "-t", "x", "q"]);
    for _ in 0..100 {
        if !tmux.run(&["has-session", "-t", "x"]).status.success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("explore did not quit:\n{}", tmux.screen());
}

#[test]
fn json_lists_every_path_and_each_layers_files_on_request() {
    let dir = tempfile::tempdir().unwrap();
    // 30 duplicate-free wheels: more than the 10-path sample.
    let mut items: Vec<_> = (0..30)
        .map(|i| sized_file(format!("wheels/w{i:02}.whl"), 1_000 + i, 100 + i as u64))
        .collect();
    items.push(file("etc/app.conf", b"key = value\n"));
    let img = fixture::image(vec![
        layer(items),
        layer(vec![
            whiteout("wheels"),
            owned(file("etc/app.conf", b"key = value\n"), 1000),
            sized_file("app/main.py", 300, 4),
        ]),
    ]);
    img.write_oci_dir(dir.path(), "t").unwrap();
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"))
            .args(["analyze", "--no-cache", "--format", "json"])
            .args(extra)
            .arg(format!("oci:{}", dir.path().display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let shadowed = |json: &serde_json::Value| {
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "shadowed-files")
            .unwrap()
            .clone()
    };
    let plain = run(&[]);
    assert_eq!(shadowed(&plain)["paths"].as_array().unwrap().len(), 10);
    assert_eq!(shadowed(&plain)["path_count"], 30);
    assert!(plain.get("layer_files").is_none());
    let full = run(&["--all-paths", "--files"]);
    let paths: Vec<String> = shadowed(&full)["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..30).map(|i| format!("/wheels/w{i:02}.whl")).collect();
    assert_eq!(paths, want);
    let files = &full["layer_files"];
    assert_eq!(files[0]["added"].as_array().unwrap().len(), 31);
    assert_eq!(files[1]["added"], serde_json::json!(["/app/main.py"]));
    assert_eq!(files[1]["removed"], serde_json::json!(["/wheels"]));
    assert_eq!(files[1]["modified"], serde_json::json!(["/etc/app.conf"]));
    assert_eq!(
        files[1]["metadata_only"],
        serde_json::json!(["/etc/app.conf"])
    );
}

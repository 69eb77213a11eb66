//! Measures the explorer on a real image: how long it takes to open after
//! the analysis, and how long each key takes to answer and draw (at 80x24
//! and 200x50, on ratatui's test backend).
//!
//!     cargo run --release --example explore_latency -- docker-archive:IMAGE.tar
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use layerscope::analyze::{self, AnalyzeOptions};
use layerscope::explore::{App, view};
use layerscope::pipeline::{self, Settings};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

fn main() {
    let reference = std::env::args()
        .nth(1)
        .expect("usage: explore_latency IMAGE");
    let t = Instant::now();
    let (image, stats) = pipeline::load(&reference, &Settings::default()).unwrap();
    let analysis = analyze::run(&image, &AnalyzeOptions::default(), stats);
    println!(
        "load + analysis: {:.2} s ({} final files)",
        t.elapsed().as_secs_f64(),
        image.files.len()
    );
    // The HTML report of the same image: its treemap and its size.
    let t = Instant::now();
    let options = AnalyzeOptions {
        treemap: true,
        ..Default::default()
    };
    let with_map = analyze::run(&image, &options, stats);
    let page = layerscope::report::html::render(&layerscope::report::html::Page {
        analysis: Some(&with_map),
        treemap: with_map.treemap.as_ref(),
        check: None,
        diff: None,
    });
    println!(
        "html: analysis with treemap + page {:.2} s, {} bytes",
        t.elapsed().as_secs_f64(),
        page.len()
    );
    if let Some(path) = std::env::args().nth(2) {
        std::fs::write(path, &page).unwrap();
    }
    let t = Instant::now();
    let mut app = App::new(&image, &analysis, true);
    let open = t.elapsed();
    for (w, h) in [(80u16, 24u16), (200, 50)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        app.heights = view::heights(Rect::new(0, 0, w, h), image.layers.len());
        let t = Instant::now();
        terminal.draw(|f| view::draw(f, &app)).unwrap();
        if w == 80 {
            println!(
                "open (trees built + first frame): {:.0} ms",
                (open + t.elapsed()).as_secs_f64() * 1e3
            );
        }
        let script: Vec<(&str, KeyCode)> = vec![
            ("tab to tree", KeyCode::Tab),
            ("down", KeyCode::Down),
            ("expand", KeyCode::Enter),
            ("page down", KeyCode::PageDown),
            ("expand all", KeyCode::Char('e')),
            ("end", KeyCode::End),
            ("collapse all", KeyCode::Char('E')),
            ("size filter", KeyCode::Char('s')),
            ("clear", KeyCode::Char('x')),
            ("kind filter", KeyCode::Char('f')),
            ("clear", KeyCode::Char('x')),
            ("layer view", KeyCode::Char('m')),
            ("focus layers", KeyCode::Char('1')),
            ("next layer", KeyCode::Down),
            ("next layer", KeyCode::Down),
            ("merged view", KeyCode::Char('m')),
            ("changed only", KeyCode::Char('c')),
            ("clear", KeyCode::Char('x')),
            ("focus findings", KeyCode::Char('3')),
            ("jump to finding", KeyCode::Enter),
            ("clear", KeyCode::Char('x')),
            ("search", KeyCode::Char('/')),
            ("type", KeyCode::Char('n')),
            ("type", KeyCode::Char('u')),
            ("search enter", KeyCode::Enter),
            ("clear", KeyCode::Char('x')),
        ];
        let mut worst = (Duration::ZERO, "");
        let mut all = Vec::new();
        for (name, code) in script {
            let t = Instant::now();
            app.update(KeyEvent::new(code, KeyModifiers::NONE));
            terminal.draw(|f| view::draw(f, &app)).unwrap();
            let d = t.elapsed();
            all.push(d);
            if d > worst.0 {
                worst = (d, name);
            }
            println!("  {w}x{h} {name:<16} {:>7.1} ms", d.as_secs_f64() * 1e3);
        }
        all.sort();
        println!(
            "{w}x{h}: median {:.1} ms, worst {:.1} ms ({})",
            all[all.len() / 2].as_secs_f64() * 1e3,
            worst.0.as_secs_f64() * 1e3,
            worst.1
        );
    }
}

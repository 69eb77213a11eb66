//! `layerscope explore`: a terminal browser of an analysed image (ratatui +
//! crossterm). Layers with their full history, the file tree of a layer or
//! of the final filesystem with change marks and directory sizes, filters
//! and search, findings that jump to their files, Python distributions.
//!
//! The usual ratatui shape: [`App`] holds the state and answers keys
//! (`App::update`, pure), [`view::draw`] renders it. Trees are built once
//! when the explorer opens, with directory sums precomputed; a key then
//! only walks expanded directories or, for a filter, the items once.

pub mod app;
pub mod filter;
pub mod search;

pub mod view;

use std::io::{self, IsTerminal};
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

pub use app::App;

use crate::analyze::Analysis;
use crate::model::Image;

/// Runs the explorer on the terminal until `q`. `color`: whether colours
/// may be used (the caller resolves `--color` and `NO_COLOR`).
pub fn run(image: &Image, analysis: &Analysis, color: bool) -> io::Result<()> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(io::Error::other(
            "explore needs a terminal (use `analyze` for a report)",
        ));
    }
    let mut app = App::new(image, analysis, color);
    enable_raw_mode()?;
    // Restores the terminal however the loop ends (error or panic).
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = disable_raw_mode();
            let _ = execute!(io::stdout(), LeaveAlternateScreen);
        }
    }
    let _restore = Restore;
    execute!(io::stdout(), EnterAlternateScreen)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    while !app.quit {
        let size = terminal.size()?;
        app.heights = view::heights(
            ratatui::layout::Rect::new(0, 0, size.width, size.height),
            image.layers.len(),
        );
        terminal.draw(|frame| view::draw(frame, &app))?;
        // Wait for a key; a resize just redraws.
        if !event::poll(Duration::from_secs(3600))? {
            continue;
        }
        if let Event::Key(key) = event::read()?
            && key.kind != KeyEventKind::Release
        {
            app.update(key);
        }
    }
    Ok(())
}

/// `text` with control characters escaped (`\x1b`, `\n`): names come from
/// the image and are never printed raw.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

//! Draws the explorer: layers on top, findings (or Python) beside the file
//! tree, the details of the selection, and the keys on the last line.
//! Works at 80x24 and without colour (marks are characters, the selection
//! is reverse video).

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Heights, Mode, Pane, PyRow, View};
use crate::model::changes::Change;
use crate::report::units::Units;

/// Where each pane goes on a screen of `area`.
pub struct Areas {
    title: Rect,
    layers: Rect,
    lower: Rect,
    tree: Rect,
    detail: Rect,
    help: Rect,
}

/// The layout of a screen.
pub fn layout(area: Rect, layer_count: usize) -> Areas {
    let layers_h = (layer_count as u16 + 3).min((area.height / 4).max(5));
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(layers_h),
            Constraint::Min(4),
            Constraint::Length(5),
            Constraint::Length(1),
        ])
        .split(area);
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(38), Constraint::Percentage(62)])
        .split(rows[2]);
    Areas {
        title: rows[0],
        layers: rows[1],
        lower: cols[0],
        tree: cols[1],
        detail: rows[3],
        help: rows[4],
    }
}

/// The rows each list shows on a screen of `area`.
pub fn heights(area: Rect, layer_count: usize) -> Heights {
    let a = layout(area, layer_count);
    Heights {
        layers: a.layers.height.saturating_sub(2) as usize,
        tree: a.tree.height.saturating_sub(2) as usize,
        lower: a.lower.height.saturating_sub(2) as usize,
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let a = layout(frame.area(), app.image.layers.len());
    let u = Units::Si;
    let s = &app.analysis.image;
    let title = format!(
        " {}  final {}  shadowed {}  pull {}",
        s.reference,
        u.bytes(s.final_bytes),
        u.bytes(s.shadowed_bytes),
        estimated(u.bytes(s.pull_bytes()), s.pull_estimated())
    );
    frame.render_widget(Paragraph::new(title).style(bold()), a.title);
    layers(frame, app, a.layers);
    match app.lower {
        Pane::Python => python(frame, app, a.lower),
        _ => findings(frame, app, a.lower),
    }
    tree(frame, app, a.tree);
    detail(frame, app, a.detail);
    let help = match app.mode {
        Mode::Search => format!(" search: {}_  (enter apply, esc cancel)", app.input),
        _ => help_line(app),
    };
    frame.render_widget(Paragraph::new(help).style(dim(app)), a.help);
    if app.mode == Mode::Help {
        help_screen(frame);
    }
}

fn help_line(app: &App) -> String {
    let keys = match app.pane {
        Pane::Layers => "↑↓ layer  ⏎ its files  m view",
        Pane::Tree => "↑↓ ←→ fold  e/E all  m view  c changed",
        Pane::Findings => "↑↓ finding  ⏎ show its files",
        Pane::Python => "↑↓ distribution  ⏎ show its files",
    };
    if app.status.is_empty() {
        format!(" q quit  ? help  tab pane │ {keys} │ f kind  s size  / search  x clear")
    } else {
        format!(" q quit  ? help  x clear │ {} │ {keys}", app.status)
    }
}

fn block(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title, style))
}

fn selected(app: &App, focused: bool) -> Style {
    match (focused, app.color) {
        (true, _) => Style::default().add_modifier(Modifier::REVERSED),
        (false, true) => Style::default().bg(Color::DarkGray),
        (false, false) => Style::default().add_modifier(Modifier::UNDERLINED),
    }
}

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

fn dim(app: &App) -> Style {
    if app.color {
        Style::default().fg(Color::Gray)
    } else {
        Style::default()
    }
}

fn fg(app: &App, color: Color) -> Style {
    if app.color {
        Style::default().fg(color)
    } else {
        Style::default()
    }
}

/// `text` cut to `width` characters, with `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn layers(frame: &mut Frame, app: &App, area: Rect) {
    let focused = app.pane == Pane::Layers;
    let w = area.width.saturating_sub(2) as usize;
    let u = Units::Si;
    let mut lines = vec![Line::styled(
        fit("  # compressed   uncompr.   shadowed  find  created by", w),
        bold(),
    )];
    let rows = area.height.saturating_sub(3) as usize;
    let offset = app.layer.offset.min(app.layer.sel);
    let offset = if app.layer.sel >= offset + rows.max(1) {
        app.layer.sel + 1 - rows.max(1)
    } else {
        offset
    };
    for (i, l) in app
        .analysis
        .layers
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows)
    {
        let created = l.created_by.as_deref().unwrap_or("");
        let created = super::clean(created);
        let line = format!(
            "{:>3} {:>10} {:>10} {:>10} {:>5}  {}",
            i,
            estimated(u.bytes(l.pull_bytes()), l.pull_estimated()),
            u.bytes(l.uncompressed_bytes),
            u.bytes(l.shadowed_bytes),
            app.layer_findings.get(i).copied().unwrap_or(0),
            created.trim()
        );
        let mut style = Style::default();
        if i == app.layer.sel {
            style = selected(app, focused);
        }
        lines.push(Line::styled(fit(&line, w), style));
    }
    let title = format!(" layers ({}) ", app.analysis.layers.len());
    frame.render_widget(Paragraph::new(lines).block(block(title, focused)), area);
}

fn findings(frame: &mut Frame, app: &App, area: Rect) {
    let focused = app.pane == Pane::Findings;
    let w = area.width.saturating_sub(2) as usize;
    let rows = area.height.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    for (i, f) in app
        .analysis
        .findings
        .iter()
        .enumerate()
        .skip(app.finding.offset)
        .take(rows)
    {
        let line = format!("{:>9} {}", Units::Si.bytes(f.bytes), f.kind.id());
        let style = if i == app.finding.sel {
            selected(app, focused)
        } else {
            fg(app, severity_color(f.severity))
        };
        lines.push(Line::styled(fit(&line, w), style));
    }
    if lines.is_empty() {
        lines.push(Line::raw("no findings"));
    }
    let title = format!(" findings ({}) │ p python ", app.analysis.findings.len());
    frame.render_widget(Paragraph::new(lines).block(block(title, focused)), area);
}

fn severity_color(s: crate::analyze::Severity) -> Color {
    match s {
        crate::analyze::Severity::Error => Color::Red,
        crate::analyze::Severity::Warning => Color::Yellow,
        crate::analyze::Severity::Info => Color::Reset,
    }
}

fn python(frame: &mut Frame, app: &App, area: Rect) {
    let focused = app.pane == Pane::Python;
    let w = area.width.saturating_sub(2) as usize;
    let rows = area.height.saturating_sub(2) as usize;
    let envs = &app.analysis.python.environments;
    let mut lines = Vec::new();
    for (i, row) in app
        .py_rows
        .iter()
        .enumerate()
        .skip(app.py.offset)
        .take(rows)
    {
        let (text, style) = match *row {
            PyRow::Env(e) => (envs[e].path.clone(), bold()),
            PyRow::Dist(e, d) => {
                let d = &envs[e].distributions[d];
                (
                    format!(" {:>9} {} {}", Units::Si.bytes(d.bytes), d.name, d.version),
                    Style::default(),
                )
            }
        };
        let style = if i == app.py.sel {
            selected(app, focused)
        } else {
            style
        };
        lines.push(Line::styled(fit(&text, w), style));
    }
    if lines.is_empty() {
        lines.push(Line::raw("no Python environment"));
    }
    let title = format!(" python ({} envs) │ 3 findings ", envs.len());
    frame.render_widget(Paragraph::new(lines).block(block(title, focused)), area);
}

fn tree(frame: &mut Frame, app: &App, area: Rect) {
    let focused = app.pane == Pane::Tree;
    let t = app.tree();
    let w = area.width.saturating_sub(2) as usize;
    let rows = area.height.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    for (i, &id) in t
        .rows
        .iter()
        .enumerate()
        .skip(app.tree_cur.offset)
        .take(rows)
    {
        let n = &t.nodes[id as usize];
        let (mark, mark_style) = match &n.item {
            Some(item) => (
                App::mark(item),
                fg(
                    app,
                    match (item.shadowed, item.change) {
                        (true, _) | (_, Change::Removed) => Color::Red,
                        (_, Change::Added) => Color::Green,
                        (_, Change::Modified) => Color::Yellow,
                        (_, Change::MetadataOnly) => Color::Cyan,
                    },
                ),
            ),
            None => ("  ", Style::default()),
        };
        let glyph = match (n.is_dir(), t.is_expanded(id)) {
            (true, true) => "▾ ",
            (true, false) => "▸ ",
            (false, _) => "  ",
        };
        let name = String::from_utf8_lossy(n.name());
        let name = super::clean(&name);
        let size = Units::Si.bytes(n.bytes);
        let indent = "  ".repeat((n.depth as usize).min(w / 4));
        let left = 2 + indent.chars().count() + 2;
        let room = w.saturating_sub(left + size.len() + 1);
        let name = fit(&name, room);
        let pad = w.saturating_sub(left + name.chars().count() + size.len());
        let style = if i == app.tree_cur.sel {
            selected(app, focused)
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(mark, mark_style.patch(style)),
            Span::styled(
                format!("{indent}{glyph}{name}{}{size}", " ".repeat(pad)),
                style,
            ),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::raw("nothing matches (x clears the filters)"));
    }
    let what = match app.view {
        View::Merged => "final filesystem".to_owned(),
        View::Layer => format!("layer {}", app.layer.sel),
    };
    let filters = app.filters.describe(app.analysis);
    let title = if filters.is_empty() {
        format!(" {what} ")
    } else {
        format!(" {what} [{filters}] ")
    };
    frame.render_widget(Paragraph::new(lines).block(block(title, focused)), area);
}

fn detail(frame: &mut Frame, app: &App, area: Rect) {
    let u = Units::Si;
    let text: Vec<Line> = match app.pane {
        Pane::Layers => app
            .analysis
            .layers
            .get(app.layer.sel)
            .map(|l| {
                vec![
                    Line::from(format!(
                        "layer {}  {}  {} files  content {}",
                        l.index,
                        l.digest,
                        l.files,
                        u.bytes(l.content_bytes)
                    )),
                    Line::from(format!(
                        "created by: {}",
                        super::clean(l.created_by.as_deref().unwrap_or("(no history)"))
                    )),
                ]
            })
            .unwrap_or_default(),
        Pane::Findings => app
            .analysis
            .findings
            .get(app.finding.sel)
            .map(|f| {
                let line = f
                    .dockerfile_line
                    .map(|l| format!("  Dockerfile line {l}"))
                    .unwrap_or_default();
                let layers: Vec<String> = f.layers.iter().map(u32::to_string).collect();
                vec![
                    Line::from(format!(
                        "{}  {} ({} compressed)  layers {}  {} paths{line}",
                        f.kind.id(),
                        u.bytes(f.bytes),
                        u.bytes(f.compressed_bytes),
                        layers.join(","),
                        f.path_count
                    )),
                    Line::from(f.message.clone()),
                    Line::styled(format!("fix: {}", f.fix), fg(app, Color::Green)),
                ]
            })
            .unwrap_or_default(),
        Pane::Python => python_detail(app),
        Pane::Tree => tree_detail(app),
    };
    let block = Block::default().borders(Borders::TOP).title(" details ");
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        area,
    );
}

fn python_detail(app: &App) -> Vec<Line<'static>> {
    let envs = &app.analysis.python.environments;
    match app.py_rows.get(app.py.sel) {
        Some(&PyRow::Env(e)) => {
            let env = &envs[e];
            vec![Line::from(format!(
                "{}  python {}  {} distributions  unclaimed {} in {} files",
                env.path,
                env.python.as_deref().unwrap_or("?"),
                env.distributions.len(),
                Units::Si.bytes(env.unclaimed_bytes),
                env.unclaimed_files
            ))]
        }
        Some(&PyRow::Dist(e, d)) => {
            let d = &envs[e].distributions[d];
            vec![
                Line::from(format!(
                    "{} {}  {} in {} files  layer {}  installer {}",
                    d.name,
                    d.version,
                    Units::Si.bytes(d.bytes),
                    d.files,
                    d.layer,
                    d.installer.as_deref().unwrap_or("?")
                )),
                Line::from(format!("{}  (files from {})", d.metadata, d.files_from)),
            ]
        }
        None => Vec::new(),
    }
}

fn tree_detail(app: &App) -> Vec<Line<'static>> {
    let Some(id) = app.tree_node() else {
        return Vec::new();
    };
    let t = app.tree();
    let n = &t.nodes[id as usize];
    let path = super::clean(&String::from_utf8_lossy(n.path));
    let u = Units::Si;
    match &n.item {
        Some(item) => {
            let what = match item.change {
                Change::Added => "added",
                Change::Modified => "modified",
                Change::MetadataOnly => "metadata-only rewrite",
                Change::Removed => "removed",
            };
            let shadow = if item.shadowed {
                ", shadowed by a later layer (still shipped)"
            } else {
                ""
            };
            vec![
                Line::from(format!("/{path}")),
                Line::from(format!(
                    "{}  {what} in layer {}{shadow}",
                    u.bytes(item.size),
                    item.loc.layer
                )),
            ]
        }
        None => vec![
            Line::from(format!("/{path}/")),
            Line::from(format!(
                "{} in {} files, {} of them shadowed",
                u.bytes(n.bytes),
                n.files,
                u.bytes(n.shadowed_bytes)
            )),
        ],
    }
}

fn help_screen(frame: &mut Frame) {
    let area = frame.area();
    let text = vec![
        "layerscope explore: keys",
        "",
        "tab / shift-tab, 1-4   next pane / layers, tree, findings, python",
        "↑↓ j k  PgUp PgDn  g G  move",
        "enter →  open: a layer's files, a directory, a finding's files",
        "←        close a directory or go to its parent",
        "space    fold / unfold     e / E  expand / collapse all",
        "m        final filesystem / selected layer",
        "c        changed only: files the selected layer wrote",
        "f        next finding kind     s  next size threshold",
        "/        search paths          x  clear the filters",
        "marks:   + added  ~ modified  = metadata only  - removed",
        "         ! shadowed: deleted or replaced later, still shipped",
        "q esc    quit                 (any key closes this help)",
    ];
    let w = area.width.min(72);
    let h = (text.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, r);
    let lines: Vec<Line> = text.into_iter().map(Line::from).collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" help ")),
        r,
    );
}

/// A pull size, marked `~` when it is a gzip estimate (the source held the
/// layers uncompressed).
fn estimated(text: String, estimate: bool) -> String {
    if estimate { format!("~{text}") } else { text }
}

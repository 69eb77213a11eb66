//! Tables that fit the terminal: fixed columns (numbers) keep their width,
//! path columns lose whole directories from the middle, text columns wrap
//! at spaces, and optional columns are left out, last-ranked first, when
//! even that does not fit. Colour is applied after the layout, so escape
//! codes never count towards a width.

use super::fit::{Paint, shorten_path, width, wrap_fit};

/// How a column's cells are made to fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Never shortened (numbers, ids).
    Fixed,
    /// A path: shortened in the middle by whole components.
    Path,
    /// Text: wrapped at spaces, at most `n` lines (the last ends in `…`).
    Words(usize),
}

/// A cell's colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tone {
    /// As is.
    #[default]
    Plain,
    /// Secondary.
    Dim,
    /// Good.
    Green,
    /// Worth fixing.
    Yellow,
    /// Bad.
    Red,
}

impl Tone {
    /// `s` in this tone (as is when `p` does not colour).
    pub fn paint(self, p: Paint, s: &str) -> String {
        match self {
            Tone::Plain => s.to_owned(),
            Tone::Dim => p.dim(s),
            Tone::Green => p.green(s),
            Tone::Yellow => p.yellow(s),
            Tone::Red => p.red(s),
        }
    }
}

struct Column {
    header: String,
    right: bool,
    fit: Fit,
    /// 0: always shown; otherwise left out when the table does not fit,
    /// the highest rank first.
    drop_rank: u8,
}

/// How a grid is laid out.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Columns available (`None`: no limit).
    pub width: Option<usize>,
    /// Nothing shortened, wrapped or left out (`--no-trunc`).
    pub no_trunc: bool,
    /// Colour.
    pub paint: Paint,
}

/// A table.
pub struct Grid {
    columns: Vec<Column>,
    rows: Vec<Vec<(String, Tone)>>,
}

/// One space before the first column, two between columns.
const GAP: usize = 2;
/// The narrowest a path or text column is squeezed to before optional
/// columns are left out.
const MIN_FLEX: usize = 20;

impl Grid {
    /// A table without columns.
    pub fn new() -> Grid {
        Grid {
            columns: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Adds a column (`right`: numbers, aligned right).
    pub fn col(mut self, header: &str, right: bool, fit: Fit) -> Grid {
        self.columns.push(Column {
            header: header.to_owned(),
            right,
            fit,
            drop_rank: 0,
        });
        self
    }

    /// Adds a column left out when the table does not fit (rank 1 goes
    /// last, higher ranks first).
    pub fn optional(mut self, header: &str, right: bool, rank: u8) -> Grid {
        self.columns.push(Column {
            header: header.to_owned(),
            right,
            fit: Fit::Fixed,
            drop_rank: rank,
        });
        self
    }

    /// Adds a row of plain cells.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| (c, Tone::Plain)).collect());
    }

    /// Adds a row of coloured cells.
    pub fn row_toned(&mut self, cells: Vec<(String, Tone)>) {
        self.rows.push(cells);
    }

    fn natural(&self, c: usize) -> usize {
        self.rows
            .iter()
            .filter_map(|r| r.get(c))
            .map(|(s, _)| width(s))
            .chain([width(&self.columns[c].header)])
            .max()
            .unwrap_or(0)
    }

    /// The columns shown and their widths.
    fn widths(&self, layout: &Layout) -> (Vec<usize>, Vec<usize>) {
        let natural: Vec<usize> = (0..self.columns.len()).map(|c| self.natural(c)).collect();
        let mut shown: Vec<usize> = (0..self.columns.len()).collect();
        let Some(limit) = layout.width.filter(|_| !layout.no_trunc) else {
            return (shown, natural);
        };
        let min = |c: usize| match self.columns[c].fit {
            Fit::Fixed => natural[c],
            _ => natural[c].min(MIN_FLEX.max(width(&self.columns[c].header))),
        };
        let total = |shown: &[usize], w: &dyn Fn(usize) -> usize| {
            1 + shown.iter().map(|&c| w(c)).sum::<usize>() + GAP * shown.len().saturating_sub(1)
        };
        // Leave out optional columns while even the narrowest layout
        // overflows.
        while total(&shown, &min) > limit {
            let Some(pos) = shown
                .iter()
                .enumerate()
                .filter(|(_, c)| self.columns[**c].drop_rank > 0)
                .max_by_key(|(_, c)| self.columns[**c].drop_rank)
                .map(|(i, _)| i)
            else {
                break;
            };
            shown.remove(pos);
        }
        let mut w: Vec<usize> = natural.clone();
        if total(&shown, &|c| natural[c]) > limit {
            // Squeeze the flexible columns: each gets its minimum and a
            // share of what is left in proportion to what it would like
            // beyond it; when not even the minimums fit, a share of the
            // room in proportion to them.
            let flex: Vec<usize> = shown
                .iter()
                .copied()
                .filter(|&c| self.columns[c].fit != Fit::Fixed)
                .collect();
            let fixed = total(&shown, &|c| if flex.contains(&c) { 0 } else { natural[c] });
            let room = limit.saturating_sub(fixed);
            let mins: usize = flex.iter().map(|&c| min(c)).sum();
            if mins <= room {
                let spare = room - mins;
                let want: usize = flex.iter().map(|&c| natural[c] - min(c)).sum();
                for &c in &flex {
                    w[c] = min(c) + (natural[c] - min(c)) * spare / want.max(1);
                }
            } else {
                for &c in &flex {
                    w[c] = (room * min(c) / mins.max(1)).max(4);
                }
            }
        }
        (shown, w)
    }

    /// The table as lines, and a note naming the columns left out.
    pub fn render(&self, layout: &Layout) -> String {
        let (shown, w) = self.widths(layout);
        let p = layout.paint;
        let mut out = String::new();
        let line = |cells: Vec<String>, out: &mut String| {
            let mut s = String::from(" ");
            for (i, cell) in cells.into_iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s.push_str(&cell);
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        let pad = |text: &str, c: usize, tone: Tone| {
            let fill = " ".repeat(w[c].saturating_sub(width(text)));
            let painted = tone.paint(p, text);
            if self.columns[c].right {
                format!("{fill}{painted}")
            } else {
                format!("{painted}{fill}")
            }
        };
        line(
            shown
                .iter()
                .map(|&c| {
                    let h = &self.columns[c].header;
                    let fill = " ".repeat(w[c].saturating_sub(width(h)));
                    if self.columns[c].right {
                        format!("{fill}{}", p.bold(h))
                    } else {
                        format!("{}{fill}", p.bold(h))
                    }
                })
                .collect(),
            &mut out,
        );
        line(
            shown.iter().map(|&c| p.dim(&"─".repeat(w[c]))).collect(),
            &mut out,
        );
        for row in &self.rows {
            let cells: Vec<(Vec<String>, Tone)> = shown
                .iter()
                .map(|&c| {
                    let (text, tone) = row.get(c).cloned().unwrap_or_default();
                    (self.fit_cell(&text, c, w[c], layout), tone)
                })
                .collect();
            let height = cells.iter().map(|(l, _)| l.len()).max().unwrap_or(1);
            for i in 0..height {
                line(
                    shown
                        .iter()
                        .zip(&cells)
                        .map(|(&c, (lines, tone))| {
                            pad(lines.get(i).map_or("", String::as_str), c, *tone)
                        })
                        .collect(),
                    &mut out,
                );
            }
        }
        let hidden: Vec<&str> = (0..self.columns.len())
            .filter(|c| !shown.contains(c))
            .map(|c| self.columns[c].header.as_str())
            .collect();
        if !hidden.is_empty() {
            out.push_str(&super::fit::para(
                "  ",
                2,
                &format!(
                    "({} left out at this width; a wider terminal or --format json shows them)",
                    hidden.join(", ")
                ),
                layout.width,
            ));
        }
        out
    }

    fn fit_cell(&self, text: &str, c: usize, w: usize, layout: &Layout) -> Vec<String> {
        if layout.no_trunc || layout.width.is_none() {
            return vec![text.to_owned()];
        }
        match self.columns[c].fit {
            Fit::Fixed => vec![text.to_owned()],
            Fit::Path => vec![shorten_path(text, w)],
            Fit::Words(max) => {
                let mut lines = wrap_fit(text, w);
                if lines.len() > max {
                    lines.truncate(max);
                    if let Some(last) = lines.last_mut() {
                        if width(last) + 2 > w {
                            *last = super::fit::truncate(last, w.saturating_sub(1));
                            last.pop();
                        }
                        last.push_str(" …");
                    }
                }
                lines
            }
        }
    }
}

impl Default for Grid {
    fn default() -> Self {
        Grid::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(width: usize) -> Layout {
        Layout {
            width: Some(width),
            no_trunc: false,
            paint: Paint::default(),
        }
    }

    #[test]
    fn squeezes_paths_and_words_then_leaves_out_optional_columns() {
        let mut g = Grid::new()
            .col("#", true, Fit::Fixed)
            .col("created by", false, Fit::Words(2))
            .col("file", false, Fit::Path)
            .col("bytes", true, Fit::Fixed)
            .optional("zstd-3", true, 1);
        g.row(vec![
            "0".into(),
            "RUN apt-get install -y python3 python3-pip python3-dev python3-numpy".into(),
            "/usr/local/lib/python3.11/site-packages/numpy/core/_multiarray_umath.so".into(),
            "31.2 MB".into(),
            "12.0 MB".into(),
        ]);
        let wide = g.render(&layout(200));
        assert_eq!(wide.lines().count(), 3, "{wide}");
        assert!(wide.contains("python3-numpy"));
        for w in [40, 60, 80, 120] {
            let s = g.render(&layout(w));
            for l in s.lines() {
                assert!(width(l) <= w, "{w}: {l}\n{s}");
            }
            // Whole components, the name too once there is room for it.
            if w >= 60 {
                assert!(s.contains("/_multiarray_umath.so"), "{s}");
            }
        }
        let narrow = g.render(&layout(50));
        assert!(narrow.contains("zstd-3 left out"), "{narrow}");
        assert!(narrow.contains(" …"), "{narrow}");
        // --no-trunc: everything whole on one line.
        let all = g.render(&Layout {
            no_trunc: true,
            ..layout(50)
        });
        assert!(all.contains("python3-dev python3-numpy"), "{all}");
        assert!(all.contains("/usr/local/lib/python3.11/site-packages/numpy/core/"));
    }
}

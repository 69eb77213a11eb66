//! How the explorer answers keys: the modes (normal, search, help), the
//! pane keys, moving, paging and expanding.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;

impl App<'_> {
    /// Answers one key.
    pub fn update(&mut self, key: KeyEvent) {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        match self.mode {
            Mode::Help => self.mode = Mode::Normal,
            Mode::Search => self.search_key(key.code),
            Mode::Normal => self.normal_key(key.code),
        }
    }

    fn search_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                self.filters.search = self.input.trim().to_owned();
                self.pane = Pane::Tree;
                self.apply();
            }
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Backspace => {
                self.input.pop();
                self.preview_search();
            }
            KeyCode::Char(c) if !c.is_control() => {
                self.input.push(c);
                self.preview_search();
            }
            _ => {}
        }
    }

    /// While a search is typed: how many files match, without building a
    /// tree (Enter shows them).
    fn preview_search(&mut self) {
        let query = self.input.trim().to_owned();
        if query.is_empty() {
            self.status.clear();
            return;
        }
        let nodes = self.search_nodes(&query);
        let base = &self.base[self.base_index()];
        let bytes: u64 = nodes
            .iter()
            .filter_map(|&n| base.nodes[n as usize].item.map(|i| i.size))
            .sum();
        self.status = format!(
            "{} paths hold `{query}`, {} (Enter shows them)",
            nodes.len(),
            crate::report::units::Units::Si.bytes(bytes)
        );
    }

    fn normal_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Tab => self.focus(self.next_pane(1)),
            KeyCode::BackTab => self.focus(self.next_pane(-1)),
            KeyCode::Char('1') => self.focus(Pane::Layers),
            KeyCode::Char('2') => self.focus(Pane::Tree),
            KeyCode::Char('3') => self.focus(Pane::Findings),
            KeyCode::Char('4') | KeyCode::Char('p') => self.focus(Pane::Python),
            KeyCode::Char('/') => {
                self.mode = Mode::Search;
                self.input = self.filters.search.clone();
            }
            KeyCode::Char('m') => {
                self.view = match self.view {
                    View::Merged => View::Layer,
                    View::Layer => View::Merged,
                };
                self.apply();
            }
            KeyCode::Char('c') => {
                self.filters.changed_only = !self.filters.changed_only;
                self.apply();
            }
            KeyCode::Char('f') => {
                self.filters.finding = None;
                self.filters.kind = match self.filters.kind {
                    None => self.kinds.first().copied(),
                    Some(k) => {
                        let i = self.kinds.iter().position(|&x| x == k).unwrap_or(0);
                        self.kinds.get(i + 1).copied()
                    }
                };
                self.apply();
            }
            KeyCode::Char('s') => {
                self.filters.size_step = (self.filters.size_step + 1) % SIZE_STEPS.len();
                self.apply();
            }
            KeyCode::Char('x') => {
                self.filters = Filters::default();
                self.apply();
            }
            _ => self.pane_key(code),
        }
    }

    fn pane_key(&mut self, code: KeyCode) {
        let step: Option<isize> = match code {
            KeyCode::Up | KeyCode::Char('k') => Some(-1),
            KeyCode::Down | KeyCode::Char('j') => Some(1),
            KeyCode::PageUp => Some(-(self.page() as isize)),
            KeyCode::PageDown => Some(self.page() as isize),
            KeyCode::Home | KeyCode::Char('g') => Some(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => Some(isize::MAX / 2),
            _ => None,
        };
        if let Some(step) = step {
            self.move_by(step);
            return;
        }
        match (self.pane, code) {
            (Pane::Layers, KeyCode::Enter | KeyCode::Right | KeyCode::Char('l')) => {
                self.view = View::Layer;
                self.apply();
                self.pane = Pane::Tree;
            }
            (Pane::Tree, KeyCode::Enter | KeyCode::Right | KeyCode::Char('l')) => {
                self.expand_selected(true)
            }
            (Pane::Tree, KeyCode::Left | KeyCode::Char('h')) => self.expand_selected(false),
            (Pane::Tree, KeyCode::Char(' ')) => {
                if let Some(n) = self.tree_node() {
                    let on = !self.tree().is_expanded(n);
                    self.tree_mut().set_expanded(n, on);
                }
            }
            (Pane::Tree, KeyCode::Char('e')) => self.tree_mut().set_all(true),
            (Pane::Tree, KeyCode::Char('E')) => {
                self.tree_mut().set_all(false);
                self.tree_cur = Cursor::default();
            }
            (Pane::Findings, KeyCode::Enter | KeyCode::Right | KeyCode::Char('l')) => {
                self.jump_to_finding(self.finding.sel)
            }
            (Pane::Python, KeyCode::Enter | KeyCode::Right | KeyCode::Char('l')) => {
                self.jump_to_python(self.py.sel)
            }
            _ => {}
        }
    }

    fn page(&self) -> usize {
        match self.pane {
            Pane::Layers => self.heights.layers,
            Pane::Tree => self.heights.tree,
            Pane::Findings | Pane::Python => self.heights.lower,
        }
        .max(1)
    }

    fn move_by(&mut self, step: isize) {
        let h = self.heights;
        match self.pane {
            Pane::Layers => {
                let before = self.layer.sel;
                let to = before as isize + step;
                self.layer.go(to, self.image.layers.len(), h.layers);
                if self.view == View::Layer && self.layer.sel != before {
                    self.apply();
                }
            }
            Pane::Tree => {
                let len = self.tree().rows.len();
                let to = self.tree_cur.sel as isize + step;
                self.tree_cur.go(to, len, h.tree);
            }
            Pane::Findings => {
                let to = self.finding.sel as isize + step;
                self.finding.go(to, self.analysis.findings.len(), h.lower);
            }
            Pane::Python => {
                let to = self.py.sel as isize + step;
                self.py.go(to, self.py_rows.len(), h.lower);
            }
        }
    }

    fn next_pane(&self, dir: isize) -> Pane {
        let order = [Pane::Layers, Pane::Tree, Pane::Findings, Pane::Python];
        let i = order.iter().position(|&p| p == self.pane).unwrap_or(0) as isize;
        order[(i + dir).rem_euclid(order.len() as isize) as usize]
    }

    fn focus(&mut self, pane: Pane) {
        self.pane = pane;
        if matches!(pane, Pane::Findings | Pane::Python) {
            self.lower = pane;
        }
    }

    fn expand_selected(&mut self, on: bool) {
        let Some(n) = self.tree_node() else { return };
        let tree = self.tree_mut();
        let node = &tree.nodes[n as usize];
        let open = node.is_dir() && tree.is_expanded(n);
        if on && open {
            // Already open: step into its first child.
            let to = self.tree_cur.sel as isize + 1;
            let len = self.tree().rows.len();
            self.tree_cur.go(to, len, self.heights.tree);
        } else if !on && !open {
            // Closed or a file: go to the parent.
            let parent = node.parent;
            if parent != 0
                && let Some(row) = self.tree().rows.iter().position(|&r| r == parent)
            {
                self.tree_cur
                    .go(row as isize, usize::MAX, self.heights.tree);
            }
        } else {
            tree.set_expanded(n, on);
        }
    }
}

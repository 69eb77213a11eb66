//! Fitting text to a terminal: its real width, paths shortened in the
//! middle (never broken mid-word), words wrapped at spaces, and colour
//! that is off unless asked for.

use std::io::IsTerminal;

/// The width of the terminal standard output is on (asked of the terminal
/// itself, then `$COLUMNS`); `None` when it is not a terminal.
pub fn terminal_width() -> Option<u16> {
    let out = std::io::stdout();
    if !out.is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(&out)
        .map(|(w, _)| w.0)
        .filter(|&w| w > 0)
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse().ok())
        })
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// `text` cut at the end to `max` characters, `…` marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A path shortened to `max` characters by dropping whole directories
/// from its middle (`/usr/…/numpy.libs/libopenblas.so`); only a file name
/// longer than `max` on its own is cut, in its middle.
pub fn shorten_path(path: &str, max: usize) -> String {
    if width(path) <= max {
        return path.to_owned();
    }
    let parts: Vec<&str> = path.split('/').collect();
    let name = parts.last().copied().unwrap_or(path);
    // The tail: the file name and as many parent directories as fit.
    let mut tail = name.to_owned();
    let mut first_tail = parts.len() - 1;
    while first_tail > 1 {
        let candidate = format!("{}/{tail}", parts[first_tail - 1]);
        if width(&candidate) + 2 > max {
            break;
        }
        tail = candidate;
        first_tail -= 1;
    }
    if width(&tail) + 2 > max {
        // The name alone is too long: keep its start and its end.
        let keep = max.saturating_sub(1);
        let head: String = name.chars().take(keep / 2).collect();
        let end: Vec<char> = name.chars().rev().take(keep - keep / 2).collect();
        return format!("{head}…{}", end.into_iter().rev().collect::<String>());
    }
    // The head: leading directories while they fit.
    let mut head = String::new();
    for part in &parts[..first_tail] {
        let candidate = format!("{head}{part}/");
        if width(&candidate) + 2 + width(&tail) > max {
            break;
        }
        head = candidate;
    }
    format!("{head}…/{tail}")
}

/// `text` wrapped at spaces to lines of at most `width` characters; a word
/// longer than a line stays whole on its own line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && self::width(&line) + 1 + self::width(word) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Terminal styles, or nothing when colour is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paint {
    /// Whether escape sequences are written.
    pub on: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// A heading.
    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    /// Something good (PASS, bytes saved).
    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    /// Something to fix soon.
    pub fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }

    /// Something bad (FAIL, a large waste).
    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    /// Secondary text.
    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = "/usr/local/lib/python3.11/site-packages/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so";

    #[test]
    fn paths_lose_whole_directories_from_the_middle() {
        assert_eq!(
            shorten_path(LIB, 70),
            "/…/site-packages/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so"
        );
        assert_eq!(
            shorten_path(LIB, 80),
            "/…/python3.11/site-packages/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so"
        );
        for max in 20..LIB.len() {
            let s = shorten_path(LIB, max);
            assert!(width(&s) <= max, "{max}: {s}");
            // Never a broken directory or name, unless the name alone is
            // longer than the room.
            if max >= 45 {
                assert!(
                    s.ends_with("/libopenblas64_p-r0-0cf96a72.3.23.dev.so"),
                    "{s}"
                );
                let kept: Vec<&str> = s.split('/').filter(|p| !p.is_empty()).collect();
                for k in kept {
                    assert!(k == "…" || LIB.split('/').any(|p| p == k), "{k} in {s}");
                }
            }
        }
        assert_eq!(shorten_path("/etc/passwd", 20), "/etc/passwd");
        assert_eq!(
            shorten_path("/usr/lib/x86_64-linux-gnu/libc.so.6", 26),
            "/usr/lib/…/libc.so.6"
        );
        let s = shorten_path(LIB, 20);
        assert!(s.starts_with("libopenbl") && s.ends_with(".dev.so") && s.contains('…'));
    }

    #[test]
    fn wraps_at_spaces_only() {
        let lines = wrap("apt-get install -y python3 python3-pip python3-dev", 20);
        assert_eq!(
            lines,
            ["apt-get install -y", "python3 python3-pip", "python3-dev"]
        );
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(Paint { on: false }.red("FAIL"), "FAIL");
        assert_eq!(Paint { on: true }.red("FAIL"), "\x1b[31mFAIL\x1b[0m");
    }
}

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

/// The width `s` takes on a terminal: characters, colour escapes
/// (`ESC [ ... m`) not counted.
pub fn width(s: &str) -> usize {
    let mut n = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            n += 1;
        }
    }
    n
}

/// One word made to fit `max` columns: a path loses whole directories
/// from its middle, anything else is cut at its end.
pub fn fit_word(word: &str, max: usize) -> String {
    if width(word) <= max {
        word.to_owned()
    } else if word.contains('/') && !word.contains('\x1b') {
        // `(/usr/lib/x),` keeps its punctuation around the shortened path.
        let punct = |c: char| "()[]`'\",;:".contains(c);
        let body = word.trim_start_matches(punct);
        let head = &word[..word.len() - body.len()];
        let path = body.trim_end_matches(punct);
        let tail = &body[path.len()..];
        let room = max.saturating_sub(width(head) + width(tail));
        if room >= 8 {
            format!("{head}{}{tail}", shorten_path(path, room))
        } else {
            shorten_path(word, max)
        }
    } else {
        truncate(word, max)
    }
}

/// `text` wrapped to `width` columns as [`wrap`] does, with a word longer
/// than a line shortened ([`fit_word`]) instead of overflowing.
pub fn wrap_fit(text: &str, width: usize) -> Vec<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| fit_word(w, width.max(1)))
        .collect();
    wrap(&words.join(" "), width)
}

/// A paragraph: `first` before the first line, `indent` spaces before the
/// others, the text wrapped to fit `width` (no limit: `None`) at spaces
/// (a word longer than a line is shortened, see [`fit_word`]).
pub fn para(first: &str, indent: usize, text: &str, width: Option<usize>) -> String {
    let Some(w) = width else {
        return format!("{first}{text}\n");
    };
    let room = w.saturating_sub(indent.max(self::width(first))).max(20);
    let mut out = String::new();
    for (i, line) in wrap_fit(text, room).iter().enumerate() {
        if i == 0 {
            out.push_str(first);
        } else {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Every line of `text` longer than `width` wrapped at spaces, the
/// continuation lines indented past the line's own indentation (and past
/// a `Label     ` column): the last guard that no line wraps at the
/// terminal's edge.
pub fn fit_lines(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if self::width(line) <= width {
            out.push_str(line.trim_end());
            out.push('\n');
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        // `Image     x`, `PASS  x`: continue under the value.
        let body = &line[lead..];
        let label = body
            .find("  ")
            .filter(|&i| i < 12 && !body[..i].contains(' '))
            .map(|i| i + body[i..].len() - body[i..].trim_start().len());
        let indent = lead + label.unwrap_or(4);
        let indent = if indent * 2 > width { 4 } else { indent };
        let (first, rest) = match label {
            Some(l) => line.split_at(lead + l),
            None => line.split_at(lead),
        };
        out.push_str(&para(first, indent, rest, Some(width)));
    }
    out
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
    if width(&tail) + 2 > max && width(name) <= max {
        // Room for the name, not for `…/` before it: the name whole.
        return name.to_owned();
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
    for word in words(text) {
        let word = word.as_str();
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

/// The words of `text`, a size's unit kept with its number (`504.3 kB`
/// never breaks).
fn words(text: &str) -> Vec<String> {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"];
    let mut out: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let unit = word.trim_end_matches(|c: char| c.is_ascii_punctuation());
        if UNITS.contains(&unit)
            && let Some(prev) = out.last_mut()
            && prev.ends_with(|c: char| c.is_ascii_digit())
        {
            prev.push(' ');
            prev.push_str(word);
            continue;
        }
        out.push(word.to_owned());
    }
    out
}

/// Terminal styles, or nothing when colour is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paint {
    /// Whether escape sequences are written.
    pub on: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.on && !text.is_empty() {
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
        // A size never breaks between its number and its unit.
        assert_eq!(wrap("is 240.0 kB, over", 8), ["is", "240.0 kB,", "over"]);
        assert_eq!(
            wrap_fit("see /usr/local/lib/python3.11/x.so now", 22),
            ["see", "/…/lib/python3.11/x.so", "now"]
        );
        assert_eq!(width("\x1b[31mFAIL\x1b[0m"), 4);
        assert_eq!(Paint { on: false }.red("FAIL"), "FAIL");
        assert_eq!(Paint { on: true }.red("FAIL"), "\x1b[31mFAIL\x1b[0m");
    }
}

//! Heredocs anywhere in a `RUN` (`RUN python3 - <<'PY'`): parse-dockerfile
//! reads one only right after `RUN`, so the bodies of the others are masked
//! as comments (same length, so spans hold) and attached afterwards.

pub(super) struct InlineHeredoc {
    /// 1-based line of the `RUN`.
    pub(super) run_line: u32,
    /// The bodies, in order.
    pub(super) bodies: Vec<String>,
    /// Byte offset of the end of the last terminator line.
    pub(super) end: usize,
    /// 1-based line of the last terminator.
    pub(super) end_line: u32,
}

/// The text with the bodies of inline heredocs turned into comment lines
/// (first byte of each non-empty line replaced by `#`; lengths unchanged),
/// and the bodies found.
pub(super) fn mask_inline_heredocs(text: &str) -> (String, Vec<InlineHeredoc>) {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        lines.push((offset, line));
        offset += line.len() + 1;
    }
    let mut bytes = text.as_bytes().to_vec();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].1.trim_start();
        let is_run = t.len() > 4 && t.is_char_boundary(4) && t[..4].eq_ignore_ascii_case("RUN ");
        let mut rest = if is_run { t[4..].trim_start() } else { "" };
        while rest.starts_with("--") {
            rest = rest
                .split_once(char::is_whitespace)
                .map_or("", |x| x.1)
                .trim_start();
        }
        let markers = if rest.starts_with("<<") {
            Vec::new()
        } else {
            heredoc_markers(rest)
        };
        if markers.is_empty() {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut bodies = Vec::new();
        let mut masks = Vec::new();
        let mut complete = true;
        'markers: for (word, strip_tabs) in markers {
            let mut body = String::new();
            loop {
                let Some(&(start, line)) = lines.get(j) else {
                    complete = false;
                    break 'markers;
                };
                j += 1;
                if !line.is_empty() {
                    masks.push((start, line.chars().next().map_or(1, char::len_utf8)));
                }
                let cmp = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if cmp == word {
                    break;
                }
                body.push_str(line);
                body.push('\n');
            }
            bodies.push(body);
        }
        if !complete {
            // Unterminated: leave it to the parser to report.
            i += 1;
            continue;
        }
        for (start, len) in masks {
            bytes[start..start + len].fill(b'#');
        }
        let (last_start, last) = lines[j - 1];
        found.push(InlineHeredoc {
            run_line: i as u32 + 1,
            bodies,
            end: last_start + last.len(),
            end_line: j as u32,
        });
        i = j;
    }
    // Only whole characters were replaced by ASCII: still UTF-8.
    (
        String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned()),
        found,
    )
}

/// The `<<WORD`, `<<-WORD`, `<<'WORD'` markers of a command line (not
/// `<<<` here-strings), with whether leading tabs are stripped.
fn heredoc_markers(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(p) = rest.find("<<") {
        let after = &rest[p + 2..];
        if after.starts_with('<') {
            rest = after.trim_start_matches('<');
            continue;
        }
        let (strip, after) = match after.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let unquoted = after.trim_start_matches(['\'', '"']);
        let word: String = unquoted
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() {
            out.push((word.clone(), strip));
        }
        rest = &unquoted[word.len()..];
    }
    out
}

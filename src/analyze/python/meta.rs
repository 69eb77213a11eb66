//! Parsing helpers of Python metadata: RECORD (CSV), RFC 822 headers,
//! relative paths, PEP 503 names, Python versions from paths.

pub(crate) use crate::scan::path::resolve;

/// The first field of every row of a RECORD (the installed path), empty
/// ones left out. Without any quote in the text every row is `path,...`
/// and is split without copying; otherwise the text is parsed as CSV.
pub(crate) fn record_paths(text: &str) -> Vec<std::borrow::Cow<'_, str>> {
    if !text.contains('"') {
        return text
            .lines()
            .map(|line| {
                line.split(',')
                    .next()
                    .unwrap_or(line)
                    .trim_end_matches('\r')
            })
            .filter(|p| !p.is_empty())
            .map(std::borrow::Cow::Borrowed)
            .collect();
    }
    parse_csv(text)
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .filter(|p| !p.is_empty())
        .map(std::borrow::Cow::Owned)
        .collect()
}

/// Parses CSV (RFC 4180 quoting, as Python's `csv` module writes RECORD).
pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The first value of header `key` in an RFC 822 style metadata file.
pub(super) fn header(text: &str, key: &str) -> Option<String> {
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(key)
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

/// PEP 503 name normalisation: lowercase, runs of `-_.` become `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// `3.11` from a path with a `python3.11` component.
pub(crate) fn python_version(env: &[u8]) -> Option<String> {
    env.split(|&b| b == b'/').find_map(|c| {
        let v = c.strip_prefix(b"python")?;
        let s = std::str::from_utf8(v).ok()?;
        let (major, minor) = s.split_once('.')?;
        (!major.is_empty()
            && !minor.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .then(|| s.to_owned())
    })
}

/// A byte-slice helper: split at the last occurrence of a byte.
pub(super) trait RsplitOnce {
    fn rsplit_once_str(&self, sep: u8) -> Option<(&[u8], &[u8])>;
}

impl RsplitOnce for [u8] {
    fn rsplit_once_str(&self, sep: u8) -> Option<(&[u8], &[u8])> {
        let i = self.iter().rposition(|&b| b == sep)?;
        Some((&self[..i], &self[i + 1..]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_and_relative_paths() {
        let rows = parse_csv(
            "a/b.py,sha256=x,10\n\"c,d.py\",,\"2\"\n\"q\"\"x\",h,3\r\n../../bin/f2py,sha256=y,5",
        );
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], vec!["c,d.py", "", "2"]);
        assert_eq!(rows[2][0], "q\"x");
        assert_eq!(
            resolve(
                b"usr/local/lib/python3.11/site-packages",
                b"../../../bin/f2py"
            )
            .unwrap(),
            b"usr/local/bin/f2py"
        );
        assert_eq!(resolve(b"a", b"../../x"), None);
        assert_eq!(resolve(b"a/b", b"/etc/x").unwrap(), b"etc/x");
        assert_eq!(resolve(b"a/b", b"c//./d").unwrap(), b"a/b/c/d");
        assert_eq!(resolve(b"", b"c/d").unwrap(), b"c/d");

        // Without quotes rows are split in place; with them, parsed as CSV.
        let plain = "a/b.py,sha256=x,10\r\n\nc.py,,\nd.dist-info/RECORD,,";
        assert_eq!(
            record_paths(plain),
            ["a/b.py", "c.py", "d.dist-info/RECORD"]
        );
        let quoted = "a/b.py,sha256=x,10\n\"c,d.py\",,\"2\"\n,,\n";
        assert_eq!(record_paths(quoted), ["a/b.py", "c,d.py"]);
    }
}

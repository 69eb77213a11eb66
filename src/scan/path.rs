//! Paths inside layers: raw bytes. Entry paths are cleaned and rooted as
//! containerd does ([`EntryPath::clean`]: `../../etc/passwd` and
//! `/etc/passwd` both land at `etc/passwd`); symlink targets are only
//! normalised ([`EntryPath::normalize`]). Non-UTF-8 names are displayed with
//! invalid bytes escaped (`\xff`), control characters too (`\x1b`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A path inside an image, as bytes, without a leading `./` or `/`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryPath(#[serde(with = "serde_bytes")] Box<[u8]>);

impl EntryPath {
    /// Normalises a tar path: strips leading `./` and `/`, trailing `/`,
    /// repeated `/` and `.` components. `..` is kept, never followed.
    pub fn normalize(raw: &[u8]) -> EntryPath {
        let mut out: Vec<u8> = Vec::with_capacity(raw.len());
        for part in raw.split(|&b| b == b'/') {
            if part.is_empty() || part == b"." {
                continue;
            }
            if !out.is_empty() {
                out.push(b'/');
            }
            out.extend_from_slice(part);
        }
        EntryPath(out.into_boxed_slice())
    }

    /// Cleans a tar path and roots it, as containerd applies a layer
    /// (`filepath.Clean`, then joined under the root): `.` and empty
    /// components dropped, `..` removes the component before it and stops
    /// at the root. The flag says whether the raw path was absolute or
    /// used `..` (a layer holding such names is worth a warning).
    pub fn clean(raw: &[u8]) -> (EntryPath, bool) {
        let mut out: Vec<u8> = Vec::with_capacity(raw.len());
        let mut unclean = raw.first() == Some(&b'/');
        for part in raw.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    unclean = true;
                    let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                    out.truncate(cut);
                }
                _ => {
                    if !out.is_empty() {
                        out.push(b'/');
                    }
                    out.extend_from_slice(part);
                }
            }
        }
        (EntryPath(out.into_boxed_slice()), unclean)
    }

    /// Wraps bytes as they are, without normalising (for range bounds).
    #[allow(dead_code)] // the model now ranges over borrowed bytes; kept for callers needing a bound
    pub(crate) fn from_raw(bytes: Vec<u8>) -> EntryPath {
        EntryPath(bytes.into_boxed_slice())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The last component.
    pub fn file_name(&self) -> &[u8] {
        self.0.rsplit(|&b| b == b'/').next().unwrap_or(&self.0)
    }

    /// Everything before the last `/` (empty at the root).
    pub fn parent(&self) -> &[u8] {
        Self::parent_of(&self.0)
    }

    /// [`EntryPath::parent`] of a path given as bytes.
    pub fn parent_of(path: &[u8]) -> &[u8] {
        match path.iter().rposition(|&b| b == b'/') {
            Some(i) => &path[..i],
            None => &[],
        }
    }

    /// Whether `self` is `dir` or lies under it.
    pub fn is_within(&self, dir: &[u8]) -> bool {
        dir.is_empty()
            || (self.0.starts_with(dir) && (self.0.len() == dir.len() || self.0[dir.len()] == b'/'))
    }

    /// The path as text: UTF-8 when it is, invalid bytes escaped otherwise.
    pub fn display(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for EntryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("/")?;
        for chunk in self.0.utf8_chunks() {
            f.write_str(&crate::text::escape_controls(chunk.valid()))?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for EntryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl From<&str> for EntryPath {
    fn from(s: &str) -> EntryPath {
        EntryPath::normalize(s.as_bytes())
    }
}

/// Joins `rel` onto `base`, resolving `.` and `..` (an absolute `rel`
/// starts from the root). `None` when `..` climbs above the root.
pub fn resolve(base: &[u8], rel: &[u8]) -> Option<Vec<u8>> {
    // The common case (every RECORD line of a plain install): a clean
    // relative path is appended as it is.
    if !rel.is_empty()
        && !rel.starts_with(b"/")
        && rel
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
    {
        let mut out = Vec::with_capacity(base.len() + 1 + rel.len());
        out.extend_from_slice(base);
        if !base.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(rel);
        return Some(out);
    }
    let mut parts: Vec<&[u8]> = if rel.starts_with(b"/") {
        Vec::new()
    } else {
        base.split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect()
    };
    for c in rel.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            _ => parts.push(c),
        }
    }
    Some(parts.join(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_without_resolving() {
        assert_eq!(
            EntryPath::normalize(b"./usr//lib/./x/").as_bytes(),
            b"usr/lib/x"
        );
        assert_eq!(
            EntryPath::normalize(b"/etc/../etc/passwd").as_bytes(),
            b"etc/../etc/passwd"
        );
        assert_eq!(EntryPath::normalize(b"a/\xffb").to_string(), "/a/\\xffb");
        assert_eq!(
            EntryPath::normalize(b"a\x1b]0;x\x07\nb").to_string(),
            "/a\\x1b]0;x\\x07\\nb"
        );
        let p = EntryPath::from("usr/lib/python3/x.py");
        assert!(p.is_within(b"usr/lib"));
        assert!(!p.is_within(b"usr/li"));
        assert_eq!(p.parent(), b"usr/lib/python3");
        assert_eq!(p.file_name(), b"x.py");
    }

    #[test]
    fn cleans_and_roots_as_containerd() {
        let clean = |raw: &[u8]| {
            let (p, unclean) = EntryPath::clean(raw);
            (String::from_utf8_lossy(p.as_bytes()).into_owned(), unclean)
        };
        assert_eq!(clean(b"../../etc/passwd"), ("etc/passwd".into(), true));
        assert_eq!(clean(b"/etc/x"), ("etc/x".into(), true));
        assert_eq!(clean(b"./a/../../b"), ("b".into(), true));
        assert_eq!(clean(b"a/b/../c/"), ("a/c".into(), true));
        assert_eq!(clean(b"./usr//lib/./x/"), ("usr/lib/x".into(), false));
        assert_eq!(clean(b".."), ("".into(), true));
        assert_eq!(clean(b"./"), ("".into(), false));
        assert_eq!(clean(b"a/.."), ("".into(), true));
    }
}

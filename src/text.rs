//! Text that came from an image, made safe to print: control characters
//! (ESC, OSC, CR, LF, DEL, C1 controls) are escaped, so a file name cannot
//! drive a terminal or fake report lines.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `s` with every control character escaped: `\n`, `\r`, `\t` and `\\`
/// style for the common ones, `\x1b` for other C0 controls and DEL, and
/// `\u{9b}` for C1 controls. Text without any is borrowed as it is.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_line_breaks() {
        assert_eq!(escape_controls("usr/lib/x.py"), "usr/lib/x.py");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("a\x1b]0;pwned\x07b\r\nc\u{9b}2J\x7f"),
            "a\\x1b]0;pwned\\x07b\\r\\nc\\u{9b}2J\\x7f"
        );
        assert_eq!(escape_controls("tab\there"), "tab\\there");
    }
}

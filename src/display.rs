//! Small text helpers any module may use; this module depends on nothing
//! else in the crate (it breaks what were cycles through `error.rs`).

/// An error and its causes on one line, `a: b: c`, skipping a cause whose
/// text its parent already repeats.
pub fn one_line(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out.replace('\n', " ")
}

/// A history entry (`created_by`) shortened for a table cell or a budget
/// line: the shell prefix, `#(nop)` and BuildKit's `# buildkit` suffix
/// dropped, whitespace collapsed, at most `max` characters (an ellipsis
/// marks a cut).
pub fn short_created_by(created_by: &str, max: usize) -> String {
    let s = created_by
        .trim()
        .trim_start_matches("/bin/sh -c ")
        .trim_start_matches("#(nop) ")
        .trim_end_matches("# buildkit")
        .trim();
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > max {
        format!(
            "{}…",
            s.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_every_builder_format() {
        assert_eq!(
            short_created_by("RUN /bin/sh -c pip install x # buildkit", 60),
            "RUN /bin/sh -c pip install x"
        );
        assert_eq!(
            short_created_by("/bin/sh -c #(nop)  CMD [\"sh\"]", 60),
            "CMD [\"sh\"]"
        );
        assert_eq!(
            short_created_by("/bin/sh -c apt-get   update", 8),
            "apt-get…"
        );
    }
}

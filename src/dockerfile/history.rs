//! History entries (`created_by`) read back into instructions, for every
//! builder that writes them: BuildKit (`RUN /bin/sh -c pip install ... #
//! buildkit`, `COPY . . # buildkit`), the classic builder (`/bin/sh -c
//! #(nop)  COPY file:ab12... in /app`, `|1 V=x /bin/sh -c make`) and
//! buildah/podman (the classic format with `#(nop)` and `|N` build args).

use super::parse::Keyword;

/// A history entry's instruction, as far as the string tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryStep {
    /// The instruction keyword (`RUN` when only a command is recorded).
    pub keyword: Keyword,
    /// What follows the keyword: the command for `RUN`; for `COPY`/`ADD`
    /// the sources and destination (classic builders write
    /// `file:<hash> in <dest>`).
    pub text: String,
}

impl HistoryStep {
    /// The destination of a `COPY`/`ADD` as recorded (`in /app` in the
    /// classic format, the last word in BuildKit's).
    pub fn copy_dest(&self) -> Option<&str> {
        if !matches!(self.keyword, Keyword::Copy | Keyword::Add) {
            return None;
        }
        match self.text.rfind(" in ") {
            Some(i) => Some(self.text[i + 4..].trim()),
            None => self.text.split_whitespace().last(),
        }
    }
}

/// Reads a `created_by` string. Never fails: anything unrecognised is a
/// `RUN` of the whole string.
pub fn parse_created_by(created_by: &str) -> HistoryStep {
    let mut s = created_by.trim();
    if let Some(rest) = s.strip_suffix("# buildkit") {
        s = rest.trim_end();
    }
    s = strip_build_args(s);
    if let Some(rest) = s.strip_prefix("/bin/sh -c #(nop)") {
        return keyword_step(rest.trim()).unwrap_or_else(|| run(rest.trim()));
    }
    if let Some(rest) = s.strip_prefix("/bin/sh -c ") {
        return run(rest);
    }
    if let Some(step) = keyword_step(s) {
        if step.keyword == Keyword::Run {
            // Flags (`--mount=...`, `--network=...`) some builders record.
            let mut text = step.text.as_str();
            while text.starts_with("--") {
                text = text.split_once(' ').map_or("", |x| x.1).trim_start();
            }
            let cmd = strip_build_args(text);
            let cmd = cmd.strip_prefix("/bin/sh -c ").unwrap_or(cmd);
            return run(cmd);
        }
        return step;
    }
    run(s)
}

fn run(cmd: &str) -> HistoryStep {
    HistoryStep {
        keyword: Keyword::Run,
        text: cmd.trim().to_owned(),
    }
}

fn keyword_step(s: &str) -> Option<HistoryStep> {
    let (word, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    // Only upper-case words: a command like `copy` is a shell command.
    if word.chars().any(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let keyword = Keyword::from_word(word)?;
    Some(HistoryStep {
        keyword,
        text: rest.trim().to_owned(),
    })
}

/// Drops the `|2 A=1 B=2 ` prefix builders write before a `RUN` that sees
/// build arguments.
fn strip_build_args(s: &str) -> &str {
    let Some(rest) = s.strip_prefix('|') else {
        return s;
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(n) = digits.parse::<usize>() else {
        return s;
    };
    let mut rest = rest[digits.len()..].trim_start();
    for _ in 0..n {
        // A value may not contain spaces in these strings (builders record
        // them unquoted); skip one word per argument.
        rest = rest.split_once(' ').map_or("", |(_, r)| r).trim_start();
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(k: Keyword, t: &str) -> HistoryStep {
        HistoryStep {
            keyword: k,
            text: t.to_owned(),
        }
    }

    #[test]
    fn reads_every_builder_format() {
        // BuildKit.
        assert_eq!(
            parse_created_by("RUN /bin/sh -c pip install -r requirements.txt # buildkit"),
            step(Keyword::Run, "pip install -r requirements.txt")
        );
        assert_eq!(
            parse_created_by("RUN |1 V=2 /bin/sh -c make # buildkit"),
            step(Keyword::Run, "make")
        );
        assert_eq!(
            parse_created_by("COPY . . # buildkit"),
            step(Keyword::Copy, ". .")
        );
        assert_eq!(
            parse_created_by(
                "RUN --mount=type=cache,target=/root/.cache/pip /bin/sh -c pip install x # buildkit"
            ),
            step(Keyword::Run, "pip install x")
        );
        assert_eq!(
            parse_created_by("WORKDIR /app"),
            step(Keyword::Workdir, "/app")
        );
        assert_eq!(parse_created_by("ENV A=b"), step(Keyword::Env, "A=b"));
        // Classic builder and buildah.
        let copy = parse_created_by("/bin/sh -c #(nop) COPY file:54c6 in /app/ ");
        assert_eq!(copy, step(Keyword::Copy, "file:54c6 in /app/"));
        assert_eq!(copy.copy_dest(), Some("/app/"));
        assert_eq!(
            parse_created_by("/bin/sh -c #(nop)  CMD [\"sh\"]"),
            step(Keyword::Cmd, "[\"sh\"]")
        );
        assert_eq!(
            parse_created_by("|1 SIZE=100 /bin/sh -c dd if=/dev/zero"),
            step(Keyword::Run, "dd if=/dev/zero")
        );
        assert_eq!(
            parse_created_by("/bin/sh -c apt-get update"),
            step(Keyword::Run, "apt-get update")
        );
        // Exec form and unknown strings.
        assert_eq!(
            parse_created_by("python -m build"),
            step(Keyword::Run, "python -m build")
        );
    }
}

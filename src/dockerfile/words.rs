//! Words of a Dockerfile: continuation joining, `NAME=value` pairs and the
//! builder's variable expansion.

use std::collections::BTreeMap;

/// Joins a shell-form command's continuation lines (escape + newline) and
/// drops comment lines inside it, as the builder does.
pub fn join_continuations(raw: &str, escape: char) -> String {
    let mut out = String::new();
    let mut first = true;
    for line in raw.split('\n') {
        let trimmed_start = line.trim_start();
        if !first && trimmed_start.starts_with('#') {
            continue;
        }
        first = false;
        let body = line.trim_end();
        match body.strip_suffix(escape) {
            Some(rest) => {
                out.push_str(rest);
            }
            None => {
                out.push_str(body);
                out.push('\n');
            }
        }
    }
    let joined = out.trim().to_owned();
    // Collapse the runs of spaces continuations leave behind.
    let mut collapsed = String::with_capacity(joined.len());
    let mut last_space = false;
    for c in joined.chars() {
        let space = c == ' ' || c == '\t';
        if !(space && last_space) {
            collapsed.push(if space { ' ' } else { c });
        }
        last_space = space;
    }
    collapsed
}

/// Splits `A=1 B="two words"` (or the legacy `NAME value`) into pairs,
/// expanding variables in the values.
pub(super) fn pairs(raw: &str, vars: &BTreeMap<String, String>) -> Vec<(String, Option<String>)> {
    let raw = raw.trim();
    let words = shell_words(raw);
    if words.is_empty() {
        return Vec::new();
    }
    if !words[0].contains('=') && words.len() > 1 {
        // Legacy `ENV NAME value with spaces`.
        let name = words[0].clone();
        let value = raw[name.len()..].trim();
        return vec![(name, Some(expand(&unquote(value), vars)))];
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(expand(&unquote(v), vars))),
            None => (w, None),
        })
        .collect()
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v[1..v.len() - 1].to_owned()
    } else {
        v.to_owned()
    }
}

/// Splits on unquoted whitespace, keeping quotes in the words.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` with the
/// builder's rules; unknown variables expand to nothing.
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && chars[i + 1] == '$' {
            out.push('$');
            i += 2;
            continue;
        }
        if c != '$' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        if chars[i + 1] == '{' {
            let Some(close) = chars[i + 2..].iter().position(|&c| c == '}') else {
                out.push(c);
                i += 1;
                continue;
            };
            let inner: String = chars[i + 2..i + 2 + close].iter().collect();
            i += close + 3;
            let (name, op) = match inner.find(":-").or_else(|| inner.find(":+")) {
                Some(p) => (&inner[..p], Some((&inner[p..p + 2], &inner[p + 2..]))),
                None => (inner.as_str(), None),
            };
            let value = vars.get(name).filter(|v| !v.is_empty());
            match (op, value) {
                (Some((":-", def)), None) => out.push_str(&expand(def, vars)),
                (Some((":+", alt)), Some(_)) => out.push_str(&expand(alt, vars)),
                (Some((":+", _)), None) => {}
                (_, Some(v)) => out.push_str(v),
                (_, None) => {}
            }
            continue;
        }
        let name: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
            .collect();
        if name.is_empty() {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1 + name.chars().count();
        if let Some(v) = vars.get(&name) {
            out.push_str(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_like_the_builder() {
        let vars: BTreeMap<String, String> = [
            ("A".to_owned(), "x".to_owned()),
            ("E".to_owned(), String::new()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            expand("$A/${A}/${B:-d}/${A:+y}/${E:-z}/\\$A", &vars),
            "x/x/d/y/z/$A"
        );
    }

    #[test]
    fn joins_continuations_and_drops_inner_comments() {
        let raw = "apt-get update \\\n    # a comment\n    && apt-get install -y gcc";
        assert_eq!(
            join_continuations(raw, '\\'),
            "apt-get update && apt-get install -y gcc"
        );
        assert_eq!(join_continuations("dir `\n  c:\\x", '`'), "dir c:\\x");
    }
}

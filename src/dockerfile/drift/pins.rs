//! What the build context pins: the distributions named with `==` in the
//! requirement and constraint files a `pip install` reads (`-r`, `-c`,
//! recursively) or a `COPY` brings in, inline `name==version` arguments,
//! and the lock files (`uv.lock`, `poetry.lock`, `Pipfile.lock`,
//! `pdm.lock`). Hash-checking mode pins everything it installs.
//!
//! The context is the user's own directory: a file that cannot be read
//! pins nothing (it is not an error).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::analyze::python::normalize_name;
use crate::dockerfile::parse::{Dockerfile, Instruction, Keyword};
use crate::dockerfile::shell;

/// Lock files whose presence in the context pins what they list.
pub const LOCK_FILES: &[&str] = &["uv.lock", "poetry.lock", "Pipfile.lock", "pdm.lock"];

/// Requirement files larger than this are not read.
const MAX_FILE_BYTES: u64 = 16 << 20;
/// How deep `-r` includes are followed.
const MAX_DEPTH: usize = 8;

/// The pins found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    /// Normalised names pinned with `==` (or listed in a lock file).
    pub names: BTreeSet<String>,
    /// A lock file or hash-checking mode pins every distribution.
    pub everything: bool,
    /// The lock files found in the context root.
    pub lock_files: Vec<String>,
}

/// Reads the pins of `df`'s build context `context`.
pub fn read(df: &Dockerfile, context: &Path) -> Pins {
    let mut pins = Pins::default();
    for lock in LOCK_FILES {
        let path = context.join(lock);
        if let Some(text) = read_small(&path) {
            pins.lock_files.push((*lock).to_owned());
            pins.names.extend(lock_names(lock, &text));
        }
    }
    let mut seen = BTreeSet::new();
    for stage in &df.stages {
        for inst in &stage.instructions {
            match inst.keyword {
                Keyword::Copy | Keyword::Add => {
                    if let Some((sources, _)) = inst.copy_args() {
                        for s in sources.iter().filter(|s| is_requirements_name(s)) {
                            read_requirements(&context.join(s), &mut pins, &mut seen, 0);
                        }
                    }
                }
                Keyword::Run => run_pins(inst, &stage.instructions, context, &mut pins, &mut seen),
                _ => {}
            }
        }
    }
    pins
}

/// Whether a file name looks like a requirements or constraints file.
fn is_requirements_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".txt") && (name.contains("requirements") || name.contains("constraints"))
        || name == "requirements.lock"
}

/// The pins of one `RUN`: inline `name==version`, `--require-hashes`, and
/// the files named by `-r`/`-c`.
fn run_pins(
    inst: &Instruction,
    stage: &[Instruction],
    context: &Path,
    pins: &mut Pins,
    seen: &mut BTreeSet<PathBuf>,
) {
    for part in shell::parts(inst.command()) {
        if !shell::pip_installs(&part) {
            continue;
        }
        let words: Vec<&str> = part.split_whitespace().collect();
        let mut it = words.iter().skip_while(|w| **w != "install").skip(1);
        while let Some(w) = it.next() {
            let w = w.trim_matches(|c| c == '"' || c == '\'');
            match w {
                "--require-hashes" => pins.everything = true,
                "-r" | "--requirement" | "-c" | "--constraint" => {
                    if let Some(f) = it.next() {
                        let f = f.trim_matches(|c| c == '"' || c == '\'');
                        for p in locate(f, inst, stage, context) {
                            read_requirements(&p, pins, seen, 0);
                        }
                    }
                }
                _ => {
                    if let Some(f) = w
                        .strip_prefix("--requirement=")
                        .or_else(|| w.strip_prefix("--constraint="))
                    {
                        for p in locate(f, inst, stage, context) {
                            read_requirements(&p, pins, seen, 0);
                        }
                    } else if let Some(name) = pinned_name(w) {
                        pins.names.insert(name);
                    }
                }
            }
        }
    }
}

/// Where a file a `RUN` names by its in-image path comes from in the
/// context: a bind mount's source, a `COPY` whose destination it is, or
/// the context's file of the same relative path or name.
fn locate(path: &str, inst: &Instruction, stage: &[Instruction], context: &Path) -> Vec<PathBuf> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let mut out = Vec::new();
    for f in inst.flags.iter().filter(|f| f.name == "mount") {
        let v = f.value.as_deref().unwrap_or("");
        let kv = |k: &str| {
            v.split(',')
                .find_map(|p| p.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
        };
        let target = kv("target")
            .or_else(|| kv("dst"))
            .or_else(|| kv("destination"));
        if let (Some(src), Some(t)) = (kv("source").or_else(|| kv("src")), target)
            && (t == path || path.starts_with(&format!("{}/", t.trim_end_matches('/'))))
        {
            let rest = path[t.len()..].trim_start_matches('/');
            out.push(context.join(src).join(rest));
        }
    }
    for c in stage.iter().filter(|i| i.keyword == Keyword::Copy) {
        if c.flag("from").is_some() {
            continue;
        }
        let Some((sources, dest)) = c.copy_args() else {
            continue;
        };
        for s in sources {
            let sname = s.rsplit('/').next().unwrap_or(s);
            if dest == path || (dest.ends_with('/') && sname == base) {
                out.push(context.join(s));
            }
        }
    }
    out.push(context.join(path.trim_start_matches('/')));
    out.push(context.join(base));
    out.retain(|p| p.is_file());
    out.dedup();
    out.truncate(1);
    out
}

/// Reads one requirements file into `pins` (its `-r`/`-c` includes too).
fn read_requirements(path: &Path, pins: &mut Pins, seen: &mut BTreeSet<PathBuf>, depth: usize) {
    if depth > MAX_DEPTH || !seen.insert(path.to_path_buf()) {
        return;
    }
    let Some(text) = read_small(path) else {
        return;
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    for line in logical_lines(&text) {
        let line = strip_comment(&line);
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else {
            continue;
        };
        if line.contains("--hash") || first == "--require-hashes" {
            pins.everything = true;
        }
        let include = match first {
            "-r" | "--requirement" | "-c" | "--constraint" => words.next(),
            w => w
                .strip_prefix("--requirement=")
                .or_else(|| w.strip_prefix("--constraint=")),
        };
        if let Some(inc) = include {
            read_requirements(&dir.join(inc), pins, seen, depth + 1);
            continue;
        }
        if let Some(name) = pinned_name(line.split(';').next().unwrap_or("").trim()) {
            pins.names.insert(name);
        }
    }
}

/// Lines with `\` continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if let Some(head) = line.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(line);
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn strip_comment(line: &str) -> String {
    let mut out = String::new();
    let mut prev_space = true;
    for c in line.chars() {
        if c == '#' && prev_space {
            break;
        }
        prev_space = c.is_whitespace();
        out.push(c);
    }
    out.trim().to_owned()
}

/// The normalised name of a `name==version` (or `name[extra]===version`)
/// requirement; `None` for anything not pinned exactly.
pub fn pinned_name(req: &str) -> Option<String> {
    let (name, version) = req.split_once("==")?;
    let version = version.trim_start_matches('=').trim();
    if version.is_empty() || version.contains('*') {
        return None;
    }
    let name = name.split('[').next().unwrap_or(name).trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    valid.then(|| normalize_name(name))
}

/// The names a lock file lists.
fn lock_names(file: &str, text: &str) -> Vec<String> {
    if file == "Pipfile.lock" {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return Vec::new();
        };
        return ["default", "develop"]
            .iter()
            .filter_map(|k| v.get(k).and_then(|o| o.as_object()))
            .flat_map(|o| o.keys().map(|k| normalize_name(k)))
            .collect();
    }
    let Ok(v) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    v.get("package")
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("name").and_then(|n| n.as_str()))
                .map(normalize_name)
                .collect()
        })
        .unwrap_or_default()
}

/// A regular file's text, when it is one and not too large.
fn read_small(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    std::fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_pins_only() {
        assert_eq!(pinned_name("NumPy==2.2.6"), Some("numpy".into()));
        assert_eq!(pinned_name("a_b[x,y]===1.0"), Some("a-b".into()));
        assert_eq!(pinned_name("numpy>=2"), None);
        assert_eq!(pinned_name("numpy==2.*"), None);
        assert_eq!(pinned_name("--index-url=x"), None);
    }

    #[test]
    fn reads_includes_locks_and_hashes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let w = |n: &str, t: &str| std::fs::write(d.join(n), t).unwrap_or_else(|e| panic!("{e}"));
        w(
            "requirements.txt",
            "# deps\nnumpy==2.2.6  # pinned\nrequests>=2\n-c more.txt\n",
        );
        w(
            "more.txt",
            "idna==3.7 ; python_version>'3'\nurllib3 == 2.2.1\n",
        );
        w(
            "uv.lock",
            "version = 1\n[[package]]\nname = \"Certifi\"\nversion = \"2024.2.2\"\n",
        );
        let df = Dockerfile::parse(
            "Dockerfile",
            "FROM python:3.12\nCOPY requirements.txt /app/\nRUN pip install -r /app/requirements.txt six==1.16.0\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let pins = read(&df, d);
        let names: Vec<&str> = pins.names.iter().map(String::as_str).collect();
        assert_eq!(names, ["certifi", "idna", "numpy", "six", "urllib3"]);
        assert!(!pins.everything);
        assert_eq!(pins.lock_files, ["uv.lock"]);
        w(
            "requirements.txt",
            "numpy==2.2.6 \\\n    --hash=sha256:ab\n",
        );
        assert!(read(&df, d).everything);
    }
}

//! What a `RUN`'s shell command does, as far as its words tell: the parts
//! of an `&&`/`;` chain, pip/uv/conda/apt invocations and where flags go,
//! dependency manifests, and whether a command can be joined with others
//! into one `RUN` without changing what each part sees.

/// Splits a shell command into its `&&`/`;`/`||`-separated parts.
pub fn parts(command: &str) -> Vec<String> {
    command
        .split("&&")
        .flat_map(|p| p.split("||"))
        .flat_map(|p| p.split(';'))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The command word of a part, past `VAR=value` assignments and `sudo`.
pub fn command_word(part: &str) -> &str {
    part.split_whitespace()
        .find(|w| (w.starts_with('-') || !w.contains('=')) && *w != "(" && *w != "sudo")
        .unwrap_or("")
}

/// The words of a part from its command word on.
fn words_from_command(part: &str) -> Vec<&str> {
    let cw = command_word(part);
    part.split_whitespace().skip_while(|w| *w != cw).collect()
}

/// Whether every part starts with one of `words`.
pub fn all_parts_start_with(command: &str, words: &[&str]) -> bool {
    let p = parts(command);
    !p.is_empty()
        && p.iter()
            .all(|p| words.iter().any(|w| p.split_whitespace().next() == Some(w)))
}

/// Whether a command runs `pip install` (any spelling).
pub fn pip_installs(command: &str) -> bool {
    pip_install_positions(command).next().is_some()
}

/// Byte offsets just after each `pip install` / `pip download` / `pip3
/// install` / `python -m pip install` in `command`.
pub fn pip_install_positions(command: &str) -> impl Iterator<Item = usize> + '_ {
    ["install", "download", "wheel"]
        .into_iter()
        .flat_map(move |verb| {
            command.match_indices(verb).filter_map(move |(i, _)| {
                let before = command[..i].trim_end();
                let word = before
                    .rsplit(|c: char| c.is_whitespace())
                    .next()
                    .unwrap_or("");
                let after_ok = command[i + verb.len()..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace);
                let is_pip = word == "pip"
                    || word == "pip3"
                    || word.ends_with("/pip")
                    || word.ends_with("/pip3")
                    || word.starts_with("pip3.");
                // `uv pip install` is uv's, with its own cache flag.
                let prev = before[..before.len() - word.len()]
                    .split_whitespace()
                    .next_back()
                    .unwrap_or("");
                let uv = prev == "uv" || prev.ends_with("/uv");
                (is_pip && !uv && after_ok).then_some(i + verb.len())
            })
        })
}

/// Byte offsets just after each `uv` command word that runs a subcommand
/// using the cache (`uv pip install`, `uv sync`, ...).
pub fn uv_positions(command: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, _) in command.match_indices("uv ") {
        let start_ok =
            i == 0 || command[..i].ends_with(|c: char| c.is_whitespace() || c == '/' || c == '(');
        let word_start = command[..i]
            .rfind(|c: char| c.is_whitespace() || c == '(')
            .map_or(0, |p| p + 1);
        let word = &command[word_start..i + 2];
        if !start_ok || !(word == "uv" || word.ends_with("/uv")) {
            continue;
        }
        let sub = command[i + 3..].split_whitespace().next().unwrap_or("");
        if matches!(
            sub,
            "pip" | "sync" | "add" | "tool" | "venv" | "run" | "lock" | "python"
        ) {
            out.push(i + 2);
        }
    }
    out
}

/// Byte offsets just after each `apt-get install` / `apt install`.
pub fn apt_install_positions(command: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for tool in ["apt-get", "apt"] {
        for (i, _) in command.match_indices(tool) {
            let before_ok = i == 0
                || command[..i].ends_with(|c: char| c.is_whitespace() || c == '(' || c == '/');
            let rest = &command[i + tool.len()..];
            if !before_ok || !rest.starts_with(char::is_whitespace) {
                continue;
            }
            // Options may come before the verb (`apt-get -y install`).
            let mut offset = i + tool.len();
            for w in rest.split_whitespace() {
                let at = command[offset..].find(w).map_or(offset, |p| offset + p);
                offset = at + w.len();
                if w == "install" {
                    out.push(offset);
                    break;
                }
                if !w.starts_with('-') {
                    break;
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// The apt verb of each part that runs apt (`update`, `install`, ...).
fn apt_verbs(command: &str) -> Vec<String> {
    parts(command)
        .iter()
        .filter_map(|p| {
            let w = words_from_command(p);
            let tool = *w.first()?;
            let tool = tool.rsplit('/').next().unwrap_or(tool);
            if !matches!(tool, "apt-get" | "apt" | "apt-cache" | "aptitude") {
                return None;
            }
            let verb = w[1..].iter().find(|w| !w.starts_with('-'))?;
            Some(format!("{tool} {verb}"))
        })
        .collect()
}

/// Whether the command refreshes apt's lists.
pub fn apt_updates(command: &str) -> bool {
    apt_verbs(command).iter().any(|v| v.ends_with(" update"))
        || command.contains("add-apt-repository")
}

/// Whether the command reads apt's lists (installs, upgrades, searches).
pub fn apt_reads_lists(command: &str) -> bool {
    apt_verbs(command)
        .iter()
        .any(|v| !v.ends_with(" update") && !v.ends_with(" clean") && !v.ends_with(" purge"))
}

/// Whether the command removes apt's lists.
pub fn apt_removes_lists(command: &str) -> bool {
    command.contains("/var/lib/apt/lists")
}

/// The conda-like tool that installs packages in the command, if any.
pub fn conda_tool(command: &str) -> Option<&'static str> {
    for p in parts(command) {
        let w = words_from_command(&p);
        let tool = w.first().map(|t| t.rsplit('/').next().unwrap_or(t));
        let verb = w.get(1).copied().unwrap_or("");
        let verb2 = w.get(2).copied().unwrap_or("");
        let installs = matches!(verb, "install" | "create" | "update")
            || (verb == "env" && matches!(verb2, "create" | "update"));
        match tool {
            Some("conda") if installs => return Some("conda"),
            Some("mamba") if installs => return Some("mamba"),
            Some("micromamba") if installs => return Some("micromamba"),
            _ => {}
        }
    }
    None
}

/// Whether the command already cleans conda's package cache.
pub fn conda_cleans(command: &str) -> bool {
    parts(command).iter().any(|p| {
        let w = words_from_command(p);
        w.get(1) == Some(&"clean")
            && w.first()
                .is_some_and(|t| t.ends_with("conda") || t.ends_with("mamba"))
    })
}

/// Builtins whose effect outlives their part (a `cd` moves the parts
/// after it); a command using one is grouped in `( ... )` when other
/// commands follow it in one `RUN`.
const STATEFUL: &[&str] = &[
    "cd", "pushd", "popd", "export", "set", "source", ".", "umask", "unset", "shopt", "alias",
    "trap", "exec", "exit", "ulimit", "declare", "readonly", "eval",
];

/// Whether the command must be grouped in a subshell before another
/// command follows it in the same shell.
pub fn needs_group(command: &str) -> bool {
    command.contains('\n')
        || parts(command)
            .iter()
            .any(|p| STATEFUL.contains(&command_word(p)))
}

/// Whether the command has a comment (`# ...`) outside quotes, which
/// would swallow anything appended to it.
pub fn has_inline_comment(command: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in command.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return true,
            None => {}
        }
        prev = c;
    }
    false
}

/// Whether `needle` appears in `command` as a path or word (not inside a
/// longer name): `/tmp/wheels` in `pip install /tmp/wheels/*.whl`.
pub fn mentions(command: &str, needle: &str) -> bool {
    let needle = needle.trim_end_matches('/');
    if needle.is_empty() {
        return false;
    }
    command.match_indices(needle).any(|(i, _)| {
        let before = command[..i].chars().next_back();
        let after = command[i + needle.len()..].chars().next();
        let boundary = |c: Option<char>| {
            c.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        };
        boundary(before) && boundary(after)
    })
}

/// Dependency manifests named by an install command (`-r FILE`,
/// `--requirement FILE`, `-c FILE`); `None` when it installs something that
/// needs the source (`.`, `-e .`), or is no dependency install at all.
pub fn install_manifests(command: &str) -> Option<Vec<String>> {
    let mut manifests = Vec::new();
    let mut is_install = false;
    for part in parts(command) {
        let words: Vec<&str> = part.split_whitespace().collect();
        if pip_installs(&part) {
            is_install = true;
            let mut it = words.iter().skip_while(|w| **w != "install").skip(1);
            while let Some(w) = it.next() {
                match *w {
                    "-r" | "--requirement" | "-c" | "--constraint" => {
                        manifests.push((*it.next()?).to_owned())
                    }
                    w if w.starts_with("--requirement=") || w.starts_with("--constraint=") => {
                        manifests.push(w.split_once('=').map(|x| x.1.to_owned())?);
                    }
                    "." | "-e" | "--editable" => return None,
                    w if w.starts_with("./") || w.starts_with('/') => return None,
                    _ => {}
                }
            }
        }
    }
    (is_install && !manifests.is_empty()).then_some(manifests)
}

/// Whether a command installs dependencies from manifests (the kinds
/// cache order cares about, automated or not).
pub fn is_dependency_install(command: &str) -> bool {
    let c = command;
    (pip_installs(c)
        && (c.contains(" -r ")
            || c.contains("--requirement")
            || c.contains(" . ")
            || c.ends_with(" .")
            || c.contains("-e .")))
        || c.contains("poetry install")
        || c.contains("uv sync")
        || c.contains("uv pip install -r")
        || c.contains("pipenv install")
        || c.contains("conda env create")
        || c.contains("conda env update")
        || c.contains("npm ci")
        || c.contains("npm install")
        || c.contains("yarn install")
}

/// The parts of the command that create or change users or groups.
pub fn user_parts(command: &str) -> Vec<String> {
    parts(command)
        .into_iter()
        .filter(|p| {
            matches!(
                command_word(p),
                "useradd" | "adduser" | "groupadd" | "addgroup" | "usermod"
            )
        })
        .collect()
}

/// Whether the command creates users or groups.
pub fn adds_users(command: &str) -> bool {
    !user_parts(command).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands() {
        assert!(pip_installs("python -m pip install x"));
        assert!(pip_installs("pip3 install -r r.txt && true"));
        assert!(pip_installs("pip download -d /w x"));
        assert!(!pip_installs("apt-get install -y python3-pip"));
        assert!(!pip_installs("uv pip install x"));
        assert_eq!(
            install_manifests("pip install -r requirements.txt -c constraints.txt"),
            Some(vec!["requirements.txt".into(), "constraints.txt".into()])
        );
        assert_eq!(install_manifests("pip install -e ."), None);
        assert_eq!(install_manifests("pip install numpy"), None);
        assert!(all_parts_start_with(
            "rm -rf /a && rm /b; rm -f /c",
            &["rm"]
        ));
        assert!(!all_parts_start_with("rm -rf /a && touch /b", &["rm"]));
        assert!(apt_updates("apt-get update"));
        assert!(apt_updates("DEBIAN_FRONTEND=x apt-get -q update && true"));
        assert!(!apt_reads_lists("apt-get update"));
        assert!(apt_reads_lists("apt-get install -y gcc"));
        assert!(!apt_reads_lists("apt-get clean"));
        let c = "apt-get -y install gcc && apt install x";
        let at: Vec<&str> = apt_install_positions(c).iter().map(|&i| &c[..i]).collect();
        assert_eq!(
            at,
            [
                "apt-get -y install",
                "apt-get -y install gcc && apt install"
            ]
        );
        let c = "uv pip install x && /bin/uv sync && uvx y";
        assert_eq!(uv_positions(c), [2, 27]);
        assert_eq!(conda_tool("conda install -y numpy"), Some("conda"));
        assert_eq!(
            conda_tool("micromamba env create -f e.yml"),
            Some("micromamba")
        );
        assert!(conda_cleans("conda install x && conda clean -afy"));
        assert!(needs_group("cd /tmp && make"));
        assert!(!needs_group("make -C /tmp && rm -rf /tmp/x || true"));
        assert!(has_inline_comment("make # build"));
        assert!(!has_inline_comment("echo '# not' && a#b"));
        assert!(mentions("pip install /tmp/wheels/*.whl", "/tmp/wheels"));
        assert!(!mentions("ls /tmp/wheelsx", "/tmp/wheels"));
        assert!(adds_users("groupadd -r app && useradd -r -g app app"));
    }
}

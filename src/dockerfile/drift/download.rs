//! Downloads whose content nothing checks: `curl`/`wget` output that a
//! `RUN` executes or installs (piped into a shell or interpreter, written
//! into a `bin` directory, or named again by a later command of the same
//! `RUN`) with no checksum or signature check in that `RUN`, and `ADD
//! http(s)://...` without `--checksum`.

use crate::dockerfile::parse::{Instruction, Keyword};
use crate::dockerfile::shell;

/// Commands that count as checking what was downloaded.
const CHECKS: &[&str] = &[
    "sha256sum -c",
    "sha256sum --check",
    "sha512sum -c",
    "sha512sum --check",
    "sha1sum -c",
    "md5sum -c",
    "shasum -a 256 -c",
    "shasum -a 512 -c",
    "shasum -c",
    "shasum --check",
    "b2sum -c",
    "gpg --verify",
    "gpg --batch --verify",
    "gpgv",
    "cosign verify",
    "minisign -V",
    "--checksum",
];

/// Interpreters a download may be piped into.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "python", "python3", "perl", "ruby",
];

/// Commands that install or run a downloaded file named in their words.
const USES: &[&str] = &[
    "tar", "unzip", "gunzip", "dpkg", "apt", "apt-get", "rpm", "pip", "pip3", "sh", "bash",
    "python", "python3", "chmod", "install", "mv", "cp", "conda", "bunzip2", "xz", "zstd",
    "source", ".",
];

/// Why an instruction's download is unverified, if it is.
pub fn unverified(inst: &Instruction) -> Option<&'static str> {
    match inst.keyword {
        Keyword::Add => {
            let (sources, _) = inst.copy_args()?;
            let remote = sources
                .iter()
                .any(|s| s.starts_with("http://") || s.starts_with("https://"));
            (remote && inst.flag("checksum").is_none())
                .then_some("`ADD` of a URL without `--checksum`")
        }
        Keyword::Run => {
            let command = inst.command();
            let checked = CHECKS.iter().any(|c| command.contains(c));
            if checked || !(command.contains("curl") || command.contains("wget")) {
                return None;
            }
            run_uses_download(command).then_some(
                "a download is executed or installed without a checksum or signature check",
            )
        }
        _ => None,
    }
}

/// Whether some download of `command` is executed or installed.
fn run_uses_download(command: &str) -> bool {
    // Piped straight into an interpreter: `curl URL | sh`.
    for seg in command.split("&&").flat_map(|p| p.split(';')) {
        let pipes: Vec<&str> = seg.split('|').map(str::trim).collect();
        for w in pipes.windows(2) {
            let next = shell::command_word(w[1]);
            let next = next.rsplit('/').next().unwrap_or(next);
            if is_download(w[0]) && INTERPRETERS.contains(&next) {
                return true;
            }
        }
    }
    let parts = shell::parts(command);
    for (i, part) in parts.iter().enumerate() {
        if !is_download(part) {
            continue;
        }
        let Some(out) = output_file(part) else {
            continue;
        };
        if out.contains("/bin/") {
            return true;
        }
        let base = out.rsplit('/').next().unwrap_or(&out).to_owned();
        if base.is_empty() {
            continue;
        }
        let used = parts[i + 1..].iter().any(|later| {
            let cw = shell::command_word(later);
            let executes_it = cw.ends_with(&base);
            (USES.contains(&cw) || executes_it) && shell::mentions(later, &base)
        });
        if used {
            return true;
        }
    }
    false
}

fn is_download(part: &str) -> bool {
    matches!(shell::command_word(part), "curl" | "wget")
}

/// The file a `curl`/`wget` part writes: `-o FILE`, `-O FILE` (wget),
/// `--output FILE`, `--output-document FILE`, or the URL's last segment
/// (`curl -O`, `wget URL`).
fn output_file(part: &str) -> Option<String> {
    let words: Vec<&str> = part.split_whitespace().collect();
    let wget = shell::command_word(part) == "wget";
    let mut url = None;
    let mut remote_name = wget;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].trim_matches(|c| c == '"' || c == '\'');
        let next = words
            .get(i + 1)
            .map(|n| n.trim_matches(|c| c == '"' || c == '\''));
        match w {
            "-o" | "--output" if !wget => return next.map(str::to_owned),
            "-O" | "--output-document" if wget => {
                return next.filter(|n| *n != "-").map(str::to_owned);
            }
            "-O" | "--remote-name" if !wget => remote_name = true,
            // Short flags bundled: `-fsSLo FILE`, `-fsSLO`.
            _ if !wget && is_bundle(w) && w.ends_with('o') => return next.map(str::to_owned),
            _ if !wget && is_bundle(w) && w.ends_with('O') => remote_name = true,
            _ if wget && is_bundle(w) && w.ends_with('O') => {
                return next.filter(|n| *n != "-").map(str::to_owned);
            }
            _ if w.starts_with("--output-document=") || w.starts_with("--output=") => {
                return w.split_once('=').map(|x| x.1.to_owned());
            }
            _ if w.starts_with("http://") || w.starts_with("https://") => url = Some(w),
            _ => {}
        }
        i += 1;
    }
    if !remote_name {
        return None;
    }
    url.and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

/// `-abc`: bundled short flags.
fn is_bundle(w: &str) -> bool {
    w.len() > 2
        && w.starts_with('-')
        && !w.starts_with("--")
        && w[1..].chars().all(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_an_executed_download() {
        assert!(run_uses_download("curl -fsSL https://x/install.sh | sh"));
        assert!(run_uses_download(
            "curl -fsSL https://x/i.sh | /bin/bash -s --"
        ));
        assert!(run_uses_download(
            "wget https://x/tool.tar.gz && tar xzf tool.tar.gz -C /opt"
        ));
        assert!(run_uses_download(
            "curl -o /usr/local/bin/kubectl https://x/kubectl"
        ));
        assert!(run_uses_download(
            "curl -Lo get.sh https://x/get && sh get.sh && rm get.sh"
        ));
        assert!(!run_uses_download(
            "curl -o /data/train.csv https://x/train.csv"
        ));
        assert!(!run_uses_download("wget -O - https://x/a | tee /a"));
    }
}

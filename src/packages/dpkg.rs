//! dpkg's database: `/var/lib/dpkg/status` (or distroless-style
//! `status.d/NAME` stanzas with `NAME.md5sums` file lists), the file lists
//! `info/NAME[:ARCH].list`, and apt's `extended_states` for which packages
//! were installed automatically.

use std::collections::{HashMap, HashSet};

use super::{Database, Manager, Package, Reason, captured_at, parse_relations};
use crate::model::{Image, Loc};

const STATUS: &[u8] = b"var/lib/dpkg/status";
const STATUS_D: &[u8] = b"var/lib/dpkg/status.d";
const INFO: &str = "var/lib/dpkg/info";
const EXTENDED_STATES: &[u8] = b"var/lib/apt/extended_states";

/// One RFC 822 style stanza: field name -> value (continuation lines of
/// multi-line fields dropped; only single-line fields are used).
pub(crate) type Stanza<'a> = HashMap<&'a str, &'a str>;

/// Splits a deb822 file into stanzas.
pub(crate) fn stanzas(text: &str) -> Vec<Stanza<'_>> {
    let mut out = Vec::new();
    let mut cur: Stanza = HashMap::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.insert(k.trim(), v.trim());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a `Status:` value means the package's files are on disk.
fn installed(status: &str) -> bool {
    let state = status.split_whitespace().nth(2).unwrap_or("");
    !matches!(state, "" | "not-installed" | "config-files")
}

/// A parsed package stanza, or `None` if it is not an installed package.
fn package(s: &Stanza) -> Option<Package> {
    let name = (*s.get("Package")?).to_owned();
    // status.d stanzas (distroless) carry no Status field: installed.
    if let Some(st) = s.get("Status")
        && !installed(st)
    {
        return None;
    }
    let field = |k: &str| s.get(k).copied().unwrap_or("");
    let mut depends = parse_relations(field("Pre-Depends"));
    depends.extend(parse_relations(field("Depends")));
    let source = s
        .get("Source")
        .and_then(|v| v.split_whitespace().next())
        .filter(|v| *v != name)
        .map(str::to_owned);
    Some(Package {
        arch: field("Architecture").to_owned(),
        version: field("Version").to_owned(),
        layer: 0,
        bytes: 0,
        installed_size: field("Installed-Size")
            .parse::<u64>()
            .unwrap_or(0)
            .saturating_mul(1024),
        reason: Reason::Requested,
        section: field("Section").to_owned(),
        source,
        depends,
        recommends: parse_relations(field("Recommends")),
        provides: parse_relations(field("Provides"))
            .into_iter()
            .flatten()
            .collect(),
        essential: field("Essential") == "yes" || field("Priority") == "required",
        files: Vec::new(),
        paths: Vec::new(),
        name,
    })
}

/// `name:arch`, the key that tells apart the architectures of one package.
fn key(name: &str, arch: &str) -> String {
    format!("{name}:{arch}")
}

/// The final-filesystem locations of the entries directly or deeper under `dir`.
fn entries_under<'a>(image: &'a Image, dir: &[u8]) -> &'a [Loc] {
    let mut lo = dir.to_vec();
    lo.push(b'/');
    let mut hi = dir.to_vec();
    hi.push(b'/' + 1);
    let path = |l: Loc| image.entry(l).path.as_bytes();
    let a = image.files.partition_point(|&l| path(l) < lo.as_slice());
    let b = image.files.partition_point(|&l| path(l) < hi.as_slice());
    &image.files[a..b.max(a)]
}

fn lossy(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Reads dpkg's database, or `None` when the image has none.
pub(crate) fn read(image: &Image) -> Option<Database> {
    let status_loc = image.find(STATUS);
    let status_text = status_loc.and_then(|l| captured_at(image, l)).map(lossy);
    let status_d: Vec<(Loc, &[u8])> = entries_under(image, STATUS_D)
        .iter()
        .filter_map(|&l| Some((l, captured_at(image, l)?)))
        .collect();
    if status_text.is_none() && status_d.is_empty() {
        return None;
    }

    // Packages with where their file list comes from and their layer.
    let mut packages: Vec<Package> = Vec::new();
    let mut listed: Vec<Vec<Vec<u8>>> = Vec::new();
    // status.d stanzas belong to their file's layer; status packages get
    // theirs from the copies of `status`, else their `.list` file's.
    let mut fixed_layer: Vec<Option<u32>> = Vec::new();
    let mut list_layer: Vec<Option<u32>> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    if let Some(text) = &status_text {
        for s in stanzas(text) {
            if let Some(p) = package(&s)
                && seen.insert(key(&p.name, &p.arch))
            {
                let (paths, layer) = info_list(image, &p);
                packages.push(p);
                listed.push(paths);
                fixed_layer.push(None);
                list_layer.push(layer);
            }
        }
    }
    // status.d: each file NAME holds stanzas, NAME.md5sums its files.
    let md5sums: HashMap<&[u8], &[u8]> = status_d
        .iter()
        .filter_map(|&(l, d)| {
            let name = image.entry(l).path.file_name();
            Some((name.strip_suffix(b".md5sums")?, d))
        })
        .collect();
    for &(loc, data) in &status_d {
        let file = image.entry(loc).path.file_name();
        if file.ends_with(b".md5sums") {
            continue;
        }
        for s in stanzas(&lossy(data)) {
            let Some(p) = package(&s) else { continue };
            if !seen.insert(key(&p.name, &p.arch)) {
                continue;
            }
            let paths = match md5sums.get(file) {
                Some(sums) => sums
                    .split(|&b| b == b'\n')
                    .filter_map(|line| {
                        // `<md5>  <path without leading slash>`
                        let i = line.iter().position(|&b| b == b' ')?;
                        let rest = line[i..].trim_ascii_start();
                        (!rest.is_empty()).then(|| rest.to_vec())
                    })
                    .collect(),
                None => info_list(image, &p).0,
            };
            packages.push(p);
            listed.push(paths);
            fixed_layer.push(Some(loc.layer));
            list_layer.push(None);
        }
    }

    // Installing layers from every layer's copy of `status`.
    let since = super::installing_layers_of(image, STATUS, |data| {
        stanzas(&lossy(data))
            .iter()
            .filter_map(package)
            .map(|p| (key(&p.name, &p.arch), p.version))
            .collect()
    });
    let status_layer = status_loc.map_or(0, |l| l.layer);
    for ((p, fixed), list) in packages.iter_mut().zip(&fixed_layer).zip(&list_layer) {
        p.layer = fixed
            .or_else(|| since.get(&key(&p.name, &p.arch)).copied())
            .or(*list)
            .unwrap_or(status_layer);
    }

    let auto = image
        .find(EXTENDED_STATES)
        .and_then(|l| captured_at(image, l))
        .map(|data| auto_installed(&lossy(data)));
    super::set_reasons(&mut packages, auto.as_ref());

    // By name, then architecture; files then go to the first lister.
    let mut order: Vec<usize> = (0..packages.len()).collect();
    order.sort_by(|&a, &b| {
        (&packages[a].name, &packages[a].arch).cmp(&(&packages[b].name, &packages[b].arch))
    });
    let mut slots: Vec<Option<(Package, Vec<Vec<u8>>)>> =
        packages.into_iter().zip(listed).map(Some).collect();
    let (packages, listed): (Vec<_>, Vec<_>) =
        order.into_iter().filter_map(|i| slots[i].take()).unzip();
    Some(Database::assemble(image, Manager::Dpkg, packages, listed))
}

/// The paths of `info/NAME:ARCH.list` (or `info/NAME.list`) and the layer
/// holding it.
fn info_list(image: &Image, p: &Package) -> (Vec<Vec<u8>>, Option<u32>) {
    let candidates = [
        format!("{INFO}/{}:{}.list", p.name, p.arch),
        format!("{INFO}/{}.list", p.name),
    ];
    for c in &candidates {
        if let Some(loc) = image.find(c.as_bytes())
            && let Some(data) = captured_at(image, loc)
        {
            let paths = data
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .filter(|l| !l.is_empty() && *l != b"/.")
                .map(<[u8]>::to_vec)
                .collect();
            return (paths, Some(loc.layer));
        }
    }
    (Vec::new(), None)
}

/// The packages apt's `extended_states` marks `Auto-Installed: 1`, by name
/// and by `name:arch`.
fn auto_installed(text: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for s in stanzas(text) {
        if s.get("Auto-Installed") == Some(&"1")
            && let Some(name) = s.get("Package")
        {
            // apt records `Architecture: all` packages under the native
            // architecture: the bare name matches them.
            if let Some(arch) = s.get("Architecture") {
                out.insert(key(name, arch));
            }
            out.insert((*name).to_owned());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_and_states() {
        let text = "Package: a\nStatus: install ok installed\nDescription: x\n long\n .\n more\nVersion: 1\n\n\nPackage: b\nStatus: deinstall ok config-files\n";
        let s = stanzas(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0]["Version"], "1");
        assert!(package(&s[0]).is_some());
        assert!(package(&s[1]).is_none());
        let auto = auto_installed(
            "Package: libx\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: y\nArchitecture: amd64\nAuto-Installed: 0\n",
        );
        assert_eq!(
            auto,
            HashSet::from(["libx:amd64".to_owned(), "libx".to_owned()])
        );
    }
}

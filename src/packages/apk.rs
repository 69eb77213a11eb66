//! Alpine's apk database: `/lib/apk/db/installed` (one block of `X:value`
//! lines per package, `F:` a directory and `R:` a file in it) and
//! `/etc/apk/world`, the packages asked for by name.

use std::collections::HashSet;

use super::{Database, Manager, Package, Reason, captured_at};
use crate::model::Image;

const INSTALLED: [&[u8]; 2] = [b"lib/apk/db/installed", b"usr/lib/apk/db/installed"];
const WORLD: &[u8] = b"etc/apk/world";

/// A dependency or provide without its version constraint (`so:libc.so=1`,
/// `python3>3.11`, `py3-numpy~1.26`).
fn bare(name: &str) -> &str {
    name.split(['=', '<', '>', '~']).next().unwrap_or(name)
}

/// Parses `installed` into packages and their listed paths.
pub(crate) fn parse(text: &str) -> Vec<(Package, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut p = Package {
            name: String::new(),
            arch: String::new(),
            version: String::new(),
            layer: 0,
            bytes: 0,
            installed_size: 0,
            reason: Reason::Requested,
            section: String::new(),
            source: None,
            depends: Vec::new(),
            recommends: Vec::new(),
            provides: Vec::new(),
            essential: false,
            files: Vec::new(),
            paths: Vec::new(),
        };
        let mut paths = Vec::new();
        let mut dir = "";
        for line in block.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k {
                "P" => p.name = v.to_owned(),
                "V" => p.version = v.to_owned(),
                "A" => p.arch = v.to_owned(),
                "I" => p.installed_size = v.parse().unwrap_or(0),
                "o" => p.source = Some(v.to_owned()),
                "D" => p.depends.extend(
                    v.split_whitespace()
                        .filter(|d| !d.starts_with('!'))
                        .map(|d| vec![bare(d).to_owned()]),
                ),
                "p" => p
                    .provides
                    .extend(v.split_whitespace().map(|d| bare(d).to_owned())),
                "F" => {
                    dir = v;
                    paths.push(v.as_bytes().to_vec());
                }
                "R" => {
                    let mut path = dir.as_bytes().to_vec();
                    if !path.is_empty() {
                        path.push(b'/');
                    }
                    path.extend_from_slice(v.as_bytes());
                    paths.push(path);
                }
                _ => {}
            }
        }
        if p.source.as_deref() == Some(p.name.as_str()) {
            p.source = None;
        }
        if !p.name.is_empty() {
            out.push((p, paths));
        }
    }
    out
}

/// Reads apk's database, or `None` when the image has none.
pub(crate) fn read(image: &Image) -> Option<Database> {
    let (path, loc) = INSTALLED.iter().find_map(|p| Some((*p, image.find(p)?)))?;
    let text = String::from_utf8_lossy(captured_at(image, loc)?);
    let parsed = parse(&text);
    let since = super::installing_layers_of(image, path, |data| {
        parse(&String::from_utf8_lossy(data))
            .into_iter()
            .map(|(p, _)| (p.name, p.version))
            .collect()
    });
    // Everything not named in `world` was pulled in as a dependency.
    let world: Option<HashSet<String>> =
        image
            .find(WORLD)
            .and_then(|l| captured_at(image, l))
            .map(|d| {
                String::from_utf8_lossy(d)
                    .split_whitespace()
                    .map(|w| bare(w).to_owned())
                    .collect()
            });
    let (mut packages, mut listed): (Vec<_>, Vec<_>) = parsed.into_iter().unzip();
    for p in &mut packages {
        p.layer = since.get(&p.name).copied().unwrap_or(loc.layer);
    }
    if let Some(world) = &world {
        let auto: HashSet<String> = packages
            .iter()
            .filter(|p| !world.contains(&p.name))
            .map(|p| p.name.clone())
            .collect();
        super::set_reasons(&mut packages, Some(&auto));
    }
    let mut order: Vec<usize> = (0..packages.len()).collect();
    order.sort_by(|&a, &b| packages[a].name.cmp(&packages[b].name));
    let mut pairs: Vec<Option<(Package, Vec<Vec<u8>>)>> =
        packages.drain(..).zip(listed.drain(..)).map(Some).collect();
    let (packages, listed): (Vec<_>, Vec<_>) =
        order.into_iter().filter_map(|i| pairs[i].take()).unzip();
    Some(Database::assemble(image, Manager::Apk, packages, listed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_installed() {
        let text = "C:Q1x=\nP:musl\nV:1.2.4-r2\nA:x86_64\nI:622592\no:musl\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\nP:busybox\nV:1.36\nD:so:libc.musl-x86_64.so.1 !foo\nF:bin\nR:busybox\nF:etc\n";
        let pkgs = parse(text);
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[0].0.name, "musl");
        assert_eq!(pkgs[0].0.installed_size, 622592);
        assert_eq!(pkgs[0].0.provides, ["so:libc.musl-x86_64.so.1"]);
        assert_eq!(pkgs[0].0.source, None);
        assert_eq!(
            pkgs[0].1,
            [
                b"lib".to_vec(),
                b"lib/ld-musl-x86_64.so.1".to_vec(),
                b"lib/libc.musl-x86_64.so.1".to_vec()
            ]
        );
        assert_eq!(
            pkgs[1].0.depends,
            [vec!["so:libc.musl-x86_64.so.1".to_owned()]]
        );
    }
}

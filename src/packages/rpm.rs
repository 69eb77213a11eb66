//! rpm's database: `rpmdb.sqlite` (RHEL and UBI 9, Fedora 33+, Amazon Linux
//! 2023), whose `Packages` table holds one header per package. A header is
//! an index of `(tag, type, offset, count)` entries over a data store
//! (rpm's `headerImport` format); the tags read are the name, epoch,
//! version, release, arch, size, group, source rpm, requires, provides and
//! the file list (`DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`). BerkeleyDB
//! `Packages` (RHEL 7 and 8, Amazon Linux 2) and SUSE's ndb `Packages.db`
//! are detected only. rpm keeps no record of why a package was installed
//! (dnf does, elsewhere), so every package counts as requested.

use super::sqlite::{self, Value};
use super::{Database, Manager, Package, Reason, captured_at};
use crate::model::Image;

/// Where the sqlite database lives (the second on newer Fedora and SUSE).
pub const SQLITE: [&[u8]; 2] = [
    b"var/lib/rpm/rpmdb.sqlite",
    b"usr/lib/sysimage/rpm/rpmdb.sqlite",
];

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const SIZE: u32 = 1009;
const GROUP: u32 = 1016;
const ARCH: u32 = 1022;
const SOURCERPM: u32 = 1044;
const PROVIDENAME: u32 = 1047;
const REQUIRENAME: u32 = 1049;
const DIRINDEXES: u32 = 1116;
const BASENAMES: u32 = 1117;
const DIRNAMES: u32 = 1118;
const LONGSIZE: u32 = 5009;

const INT32: u32 = 4;
const INT64: u32 = 5;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;
const I18NSTRING: u32 = 9;

/// Index entries one header may have.
const MAX_ENTRIES: usize = 1 << 16;

/// One package header: its index entries and data store.
struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

impl<'a> Header<'a> {
    fn parse(blob: &'a [u8]) -> Option<Header<'a>> {
        let il = be32(blob, 0)? as usize;
        let dl = be32(blob, 4)? as usize;
        if il > MAX_ENTRIES {
            return None;
        }
        let index = blob.get(8..8 + 16 * il)?;
        let data = blob.get(8 + 16 * il..(8 + 16 * il).checked_add(dl)?)?;
        Some(Header { index, data })
    }

    /// (type, offset, count) of `tag`.
    fn entry(&self, tag: u32) -> Option<(u32, usize, usize)> {
        self.index.chunks_exact(16).find_map(|e| {
            (be32(e, 0)? == tag).then_some(())?;
            Some((be32(e, 4)?, be32(e, 8)? as usize, be32(e, 12)? as usize))
        })
    }

    /// The strings of a string, string array or i18n string tag.
    fn strings(&self, tag: u32) -> Vec<String> {
        let Some((kind, offset, count)) = self.entry(tag) else {
            return Vec::new();
        };
        let count = match kind {
            STRING => 1,
            STRING_ARRAY | I18NSTRING => count,
            _ => return Vec::new(),
        };
        let mut out = Vec::new();
        let mut rest = self.data.get(offset..).unwrap_or_default();
        for _ in 0..count {
            let Some(end) = rest.iter().position(|&b| b == 0) else {
                break;
            };
            out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
            rest = &rest[end + 1..];
        }
        out
    }

    fn string(&self, tag: u32) -> Option<String> {
        self.strings(tag).into_iter().next()
    }

    /// The values of an INT32 tag.
    fn int32s(&self, tag: u32) -> Vec<u32> {
        match self.entry(tag) {
            Some((INT32, offset, count)) => (0..count)
                .map_while(|i| be32(self.data, offset.checked_add(i.checked_mul(4)?)?))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn int64(&self, tag: u32) -> Option<u64> {
        match self.entry(tag)? {
            (INT64, offset, _) => {
                let b = self.data.get(offset..offset.checked_add(8)?)?;
                Some(u64::from_be_bytes(b.try_into().ok()?))
            }
            _ => None,
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A package and the paths it lists.
type Listed = (Package, Vec<Vec<u8>>);

/// One package and the paths it lists, from its header.
fn package(blob: &[u8]) -> Option<Listed> {
    let h = Header::parse(blob)?;
    let name = h.string(NAME)?;
    let version = h.string(VERSION).unwrap_or_default();
    let release = h.string(RELEASE).unwrap_or_default();
    let version = match h.int32s(EPOCH).first() {
        Some(e) => format!("{e}:{version}-{release}"),
        None => format!("{version}-{release}"),
    };
    // `glibc-2.34-60.el9.src.rpm` -> `glibc`.
    let source = h.string(SOURCERPM).and_then(|s| {
        let stem = s
            .strip_suffix(".src.rpm")
            .or_else(|| s.strip_suffix(".nosrc.rpm"))?;
        let mut parts = stem.rsplitn(3, '-');
        let (_, _, n) = (parts.next()?, parts.next()?, parts.next()?);
        (n != name).then(|| n.to_owned())
    });
    let dirs = h.strings(DIRNAMES);
    let paths = h
        .strings(BASENAMES)
        .into_iter()
        .zip(h.int32s(DIRINDEXES))
        .filter_map(|(base, i)| Some(format!("{}{base}", dirs.get(i as usize)?).into_bytes()))
        .collect();
    let provides = h.strings(PROVIDENAME);
    let depends = h
        .strings(REQUIRENAME)
        .into_iter()
        .filter(|r| !r.starts_with("rpmlib(") && !provides.contains(r) && *r != name)
        .map(|r| vec![r])
        .collect();
    let section = h
        .string(GROUP)
        .filter(|g| g != "Unspecified")
        .unwrap_or_default();
    let p = Package {
        name,
        arch: h.string(ARCH).unwrap_or_default(),
        version,
        layer: 0,
        bytes: 0,
        installed_size: h
            .int64(LONGSIZE)
            .or_else(|| h.int32s(SIZE).first().map(|&s| u64::from(s)))
            .unwrap_or(0),
        reason: Reason::Requested,
        section,
        source,
        depends,
        recommends: Vec::new(),
        provides,
        essential: false,
        files: Vec::new(),
        paths: Vec::new(),
    };
    Some((p, paths))
}

/// Parses an `rpmdb.sqlite` into packages and their listed paths, sorted
/// by name (headers that do not parse are left out).
pub(crate) fn parse(db: &[u8]) -> Result<Vec<Listed>, String> {
    let mut out: Vec<Listed> = sqlite::table_rows(db, "Packages")?
        .into_iter()
        .filter_map(|(_, cols)| match cols.get(1) {
            Some(Value::Bytes(blob)) => package(blob),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| (&a.0.name, &a.0.arch).cmp(&(&b.0.name, &b.0.arch)));
    Ok(out)
}

/// Reads the sqlite rpm database, or `None` when the image has none (or
/// its copy was not captured or does not parse).
pub(crate) fn read(image: &Image) -> Option<Database> {
    let (path, loc) = SQLITE.iter().find_map(|p| Some((*p, image.find(p)?)))?;
    let parsed = parse(captured_at(image, loc)?).ok()?;
    let since = super::installing_layers_of(image, path, |data| {
        parse(data)
            .unwrap_or_default()
            .into_iter()
            .map(|(p, _)| (p.name, p.version))
            .collect()
    });
    let (mut packages, listed): (Vec<_>, Vec<_>) = parsed.into_iter().unzip();
    for p in &mut packages {
        p.layer = since.get(&p.name).copied().unwrap_or(loc.layer);
    }
    Some(Database::assemble(image, Manager::Rpm, packages, listed))
}

//! A minimal read-only reader of one SQLite table, enough for rpm's
//! `rpmdb.sqlite` (`Packages (hnum INTEGER PRIMARY KEY, blob BLOB)`): the
//! file header, the schema table on page 1, table b-trees (interior and
//! leaf pages) and overflow chains, and the record format
//! (<https://www.sqlite.org/fileformat.html>).
//!
//! The file is untrusted: every offset is bounds-checked, a page is visited
//! at most once (no cycles), and the rows returned are capped by
//! [`MAX_BYTES`] of payload. A malformed file is an error, never a panic.

use std::collections::HashSet;

/// Payload bytes one read may return in all.
pub const MAX_BYTES: usize = 256 << 20;

/// One column value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// NULL (also the `INTEGER PRIMARY KEY` column, stored as the rowid).
    Null,
    /// An integer.
    Int(i64),
    /// A blob or a text (bytes as stored).
    Bytes(Vec<u8>),
    /// A float (kept only as present).
    Float,
}

/// The rows of `table`: each its rowid and its column values.
pub fn table_rows(db: &[u8], table: &str) -> Result<Vec<(i64, Vec<Value>)>, String> {
    let file = File::open(db)?;
    let mut seen = HashSet::new();
    let mut budget = MAX_BYTES;
    let mut schema = Vec::new();
    file.walk(1, &mut seen, &mut budget, &mut schema, 0)?;
    // sqlite_master: type, name, tbl_name, rootpage, sql.
    let root = schema
        .iter()
        .find_map(|(_, cols)| match cols.as_slice() {
            [
                Value::Bytes(kind),
                Value::Bytes(name),
                _,
                Value::Int(root),
                ..,
            ] if kind.as_slice() == b"table" && name.as_slice() == table.as_bytes() => Some(*root),
            _ => None,
        })
        .ok_or_else(|| format!("no table {table}"))?;
    let root = u32::try_from(root).map_err(|_| "bad root page".to_owned())?;
    let mut rows = Vec::new();
    file.walk(root, &mut seen, &mut budget, &mut rows, 0)?;
    Ok(rows)
}

/// The database file and its page geometry.
struct File<'a> {
    db: &'a [u8],
    page_size: usize,
    usable: usize,
}

impl<'a> File<'a> {
    fn open(db: &'a [u8]) -> Result<File<'a>, String> {
        if db.len() < 100 || &db[..16] != b"SQLite format 3\0" {
            return Err("not an SQLite database".into());
        }
        let page_size = match u16::from_be_bytes([db[16], db[17]]) {
            1 => 65536,
            n => usize::from(n),
        };
        if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
            return Err("bad page size".into());
        }
        let usable = page_size - usize::from(db[20]);
        if usable < 480 {
            return Err("bad reserved size".into());
        }
        Ok(File {
            db,
            page_size,
            usable,
        })
    }

    /// Page `n` (1-based), whole.
    fn page(&self, n: u32) -> Result<&'a [u8], String> {
        let start = (n as usize)
            .checked_sub(1)
            .and_then(|i| i.checked_mul(self.page_size))
            .ok_or("page 0")?;
        self.db
            .get(start..start + self.page_size)
            .ok_or_else(|| format!("page {n} past the end"))
    }

    /// Appends the rows of the table b-tree rooted at page `n`.
    fn walk(
        &self,
        n: u32,
        seen: &mut HashSet<u32>,
        budget: &mut usize,
        rows: &mut Vec<(i64, Vec<Value>)>,
        depth: u32,
    ) -> Result<(), String> {
        if depth > 40 || !seen.insert(n) {
            return Err("b-tree loop".into());
        }
        let page = self.page(n)?;
        // Page 1 starts with the 100-byte file header.
        let h = if n == 1 { 100 } else { 0 };
        let kind = *page.get(h).ok_or("short page")?;
        let cells = usize::from(be16(page, h + 3)?);
        let (header, interior) = match kind {
            13 => (8, false),
            5 => (12, true),
            _ => return Err(format!("page {n}: not a table b-tree page")),
        };
        for i in 0..cells {
            let at = usize::from(be16(page, h + header + 2 * i)?);
            if interior {
                let child = be32(page, at)?;
                self.walk(child, seen, budget, rows, depth + 1)?;
            } else {
                rows.push(self.leaf_cell(page, at, seen, budget)?);
            }
        }
        if interior {
            let right = be32(page, h + 8)?;
            self.walk(right, seen, budget, rows, depth + 1)?;
        }
        Ok(())
    }

    /// A table leaf cell at `at`: its rowid and its record.
    fn leaf_cell(
        &self,
        page: &[u8],
        at: usize,
        seen: &mut HashSet<u32>,
        budget: &mut usize,
    ) -> Result<(i64, Vec<Value>), String> {
        let (size, a) = varint(page, at)?;
        let (rowid, b) = varint(page, at + a)?;
        let size = usize::try_from(size).map_err(|_| "bad payload size")?;
        if size > *budget {
            return Err("payload over the budget".into());
        }
        *budget -= size;
        let start = at + a + b;
        // How much of the payload lies on the page (the file format's rule).
        let u = self.usable;
        let x = u - 35;
        let local = if size <= x {
            size
        } else {
            let m = (u - 12) * 32 / 255 - 23;
            let k = m + (size - m) % (u - 4);
            if k <= x { k } else { m }
        };
        let mut payload = page.get(start..start + local).ok_or("short cell")?.to_vec();
        if local < size {
            let mut next = be32(page, start + local)?;
            while payload.len() < size {
                if !seen.insert(next) {
                    return Err("overflow loop".into());
                }
                let p = self.page(next)?;
                let take = (size - payload.len()).min(u - 4);
                payload.extend_from_slice(p.get(4..4 + take).ok_or("short overflow page")?);
                next = be32(p, 0)?;
            }
        }
        Ok((rowid as i64, record(&payload)?))
    }
}

/// The values of a record.
fn record(p: &[u8]) -> Result<Vec<Value>, String> {
    let (header, mut at) = varint(p, 0)?;
    let header = usize::try_from(header).map_err(|_| "bad record")?;
    let mut body = header;
    let mut out = Vec::new();
    while at < header {
        let (t, n) = varint(p, at)?;
        at += n;
        let (value, len) = match t {
            0 => (Value::Null, 0),
            1..=6 => {
                let len = [0, 1, 2, 3, 4, 6, 8][t as usize];
                let b = p.get(body..body + len).ok_or("short record")?;
                // Big-endian two's complement of `len` bytes.
                let mut v: i64 = if b[0] & 0x80 != 0 { -1 } else { 0 };
                for &x in b {
                    v = (v << 8) | i64::from(x);
                }
                (Value::Int(v), len)
            }
            7 => (Value::Float, 8),
            8 => (Value::Int(0), 0),
            9 => (Value::Int(1), 0),
            t if t >= 12 => {
                let len = usize::try_from((t - 12) / 2).map_err(|_| "bad length")?;
                let b = p.get(body..body + len).ok_or("short record")?;
                (Value::Bytes(b.to_vec()), len)
            }
            _ => return Err("bad serial type".into()),
        };
        body += len;
        out.push(value);
    }
    Ok(out)
}

/// A SQLite varint at `at`: its value and length.
fn varint(b: &[u8], at: usize) -> Result<(u64, usize), String> {
    let mut v = 0u64;
    for i in 0..9 {
        let x = *b.get(at + i).ok_or("short varint")?;
        if i == 8 {
            return Ok(((v << 8) | u64::from(x), 9));
        }
        v = (v << 7) | u64::from(x & 0x7f);
        if x & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err("bad varint".into())
}

fn be16(b: &[u8], at: usize) -> Result<u16, String> {
    let s = b.get(at..at + 2).ok_or("short page")?;
    Ok(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Result<u32, String> {
    let s = b.get(at..at + 4).ok_or("short page")?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::print_stderr)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A database written by the `sqlite3` tool (when installed), with rows
    /// that overflow onto several pages: read back exactly.
    #[test]
    fn reads_what_sqlite3_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.sqlite");
        let sql = "PRAGMA page_size=1024; CREATE TABLE other (x); \
                   CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL); \
                   WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) \
                   INSERT INTO Packages (blob) SELECT zeroblob(i * 37) || CAST(i AS BLOB) FROM n;";
        let ok = Command::new("sqlite3")
            .arg(&db)
            .arg(sql)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipping: sqlite3 missing");
            return;
        }
        let bytes = std::fs::read(&db).unwrap();
        let rows = table_rows(&bytes, "Packages").unwrap();
        assert_eq!(rows.len(), 300);
        for (i, (rowid, cols)) in rows.iter().enumerate() {
            let n = i as i64 + 1;
            assert_eq!(*rowid, n);
            let mut want = vec![0u8; n as usize * 37];
            want.extend_from_slice(n.to_string().as_bytes());
            assert_eq!(cols, &vec![Value::Null, Value::Bytes(want)], "row {n}");
        }
        assert!(table_rows(&bytes, "nope").is_err());
        // Cut short or corrupted: an error, never a panic.
        assert!(table_rows(&bytes[..bytes.len() / 2], "Packages").is_err());
        let mut bad = bytes.clone();
        for i in (100..bad.len()).step_by(997) {
            bad[i] ^= 0x5a;
        }
        let _ = table_rows(&bad, "Packages");
    }
}

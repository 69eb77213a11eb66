//! Byte sizes as people write them in budgets: `900MB`, `1.2GiB`, `900 MB`,
//! `500kB`, or plain bytes. SI units are powers of 1000 (like `docker
//! images`), `KiB`/`MiB`/`GiB`/`TiB` powers of 1024. Units are matched
//! without regard to case, so `mb` is a megabyte.

/// Why a size could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a size (examples: 900MB, 1.2GiB, 52428800)")]
pub struct BadSize(pub String);

/// Parses a size into bytes. Fractions are exact to the byte (rounded to
/// the nearest byte): `1.5kB` is 1500, `1.2GiB` is 1288490189.
pub fn parse(text: &str) -> Result<u64, BadSize> {
    let bad = || BadSize(text.to_owned());
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (number, unit) = (s[..split].replace('_', ""), s[split..].trim());
    let multiplier: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number.as_str(), ""),
    };
    if int.is_empty() && frac.is_empty()
        || frac.len() > 18
        || !(int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let int: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    let scale = 10u128.pow(frac.len() as u32);
    let whole = int.checked_mul(multiplier).ok_or_else(bad)?;
    // Nearest byte: (frac * multiplier + scale / 2) / scale.
    let part = (frac_value * multiplier + scale / 2) / scale;
    u64::try_from(whole + part).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("900MB"), Ok(900_000_000));
        assert_eq!(parse("900 MB"), Ok(900_000_000));
        assert_eq!(parse("1.2GiB"), Ok(1_288_490_189)); // 1.2 * 2^30 = 1288490188.8
        assert_eq!(parse("1.5kB"), Ok(1_500));
        assert_eq!(parse("52428800"), Ok(52_428_800));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("2mib"), Ok(2 << 20));
        assert_eq!(parse("1_000"), Ok(1_000));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "MB",
            "1.2.3GB",
            "12 parsecs",
            "-5MB",
            "1e9",
            "99999999999999999999TB",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

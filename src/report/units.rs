//! Human units: SI by default like `docker images` (kB, MB, GB), binary
//! (KiB, MiB, GiB) with `--binary`.

/// How byte counts are shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Units {
    /// Powers of 1000.
    #[default]
    Si,
    /// Powers of 1024.
    Binary,
}

impl Units {
    /// Formats `bytes` with one decimal above a kilobyte: `1.2 GB`.
    pub fn bytes(self, bytes: u64) -> String {
        let (base, names): (f64, [&str; 6]) = match self {
            Units::Si => (1000.0, ["B", "kB", "MB", "GB", "TB", "PB"]),
            Units::Binary => (1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]),
        };
        let mut value = bytes as f64;
        let mut unit = 0;
        while value >= base && unit < names.len() - 1 {
            value /= base;
            unit += 1;
        }
        if unit == 0 {
            format!("{bytes} B")
        } else {
            format!("{value:.1} {}", names[unit])
        }
    }
}

/// A ratio as a percentage with one decimal.
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Units::Si.bytes(999), "999 B");
        assert_eq!(Units::Si.bytes(1_250_000), "1.2 MB");
        assert_eq!(Units::Binary.bytes(3 << 30), "3.0 GiB");
        assert_eq!(percent(0.6813), "68.1%");
    }
}

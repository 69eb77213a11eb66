//! Layer compression, told from the first bytes of the blob (media types
//! lie: `docker save` writes gzip layers under a `tar` media type and the
//! reverse).

use std::io::{BufRead, Read};

use serde::{Deserialize, Serialize};

/// The compression of a layer blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip, possibly several members.
    Gzip,
    /// zstd, possibly several frames.
    Zstd,
}

/// A compression layerscope recognises but cannot read.
#[derive(Debug, thiserror::Error)]
#[error("layer is compressed with {0}, which is not supported (gzip, zstd or none)")]
pub struct Unsupported(pub &'static str);

impl Compression {
    /// Sniffs the compression from the first bytes of a blob.
    pub fn sniff(head: &[u8]) -> Result<Compression, Unsupported> {
        match head {
            [0x1f, 0x8b, ..] => Ok(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Ok(Compression::Zstd),
            [b'B', b'Z', b'h', ..] => Err(Unsupported("bzip2")),
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Err(Unsupported("xz")),
            _ => Ok(Compression::None),
        }
    }

    /// Wraps a buffered blob reader in the matching decoder.
    pub fn decoder<'a, R: BufRead + Send + 'a>(
        self,
        blob: R,
    ) -> std::io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Compression::None => Box::new(blob),
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(blob)),
            Compression::Zstd => {
                // Frames needing more than 128 MiB of window are refused by
                // `ZstdFrames` with the window named, before the decoder
                // (limited to the same) would fail without saying why.
                let mut d = zstd::stream::read::Decoder::with_buffer(
                    super::zstd_frames::ZstdFrames::new(blob),
                )?;
                d.window_log_max(27)?;
                Box::new(d)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic() {
        assert_eq!(
            Compression::sniff(&[0x1f, 0x8b, 8]).ok(),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]).ok(),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::sniff(b"usr/").ok(), Some(Compression::None));
        assert!(Compression::sniff(b"BZh9").is_err());
    }
}

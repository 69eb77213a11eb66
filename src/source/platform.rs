//! Platforms (`os/arch[/variant]`) and choosing one from an image index.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An `os/architecture[/variant]` triple as in OCI image indexes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// e.g. `v8` for arm64, `v7` for arm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of the machine layerscope runs on, in OCI names.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "arm" => "arm",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// Whether an index entry for `candidate` satisfies this request: os and
    /// architecture equal, and the variant equal when this request names one.
    pub fn matches(&self, candidate: &Platform) -> bool {
        self.os == candidate.os
            && self.architecture == candidate.architecture
            && match &self.variant {
                None => true,
                Some(v) => {
                    candidate.variant.as_deref() == Some(v.as_str())
                        || (v == "v8"
                            && candidate.variant.is_none()
                            && candidate.architecture == "arm64")
                }
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An index entry or config without a platform is not "/".
        if self.os.is_empty() && self.architecture.is_empty() {
            return f.write_str("unknown");
        }
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A `--platform` value that is not `os/arch[/variant]`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a platform (expected os/arch[/variant], e.g. linux/arm64/v8)")]
pub struct BadPlatform(String);

impl FromStr for Platform {
    type Err = BadPlatform;
    fn from_str(s: &str) -> Result<Self, BadPlatform> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(BadPlatform(s.to_owned()));
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: None,
            }),
            [os, arch, variant] => Ok(Platform {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: Some((*variant).into()),
            }),
            _ => Err(BadPlatform(s.to_owned())),
        }
    }
}

/// Picks the first of `candidates` that `wanted` matches, returning its
/// position; `None` lists nothing matched.
pub fn choose<'a>(
    wanted: &Platform,
    candidates: impl IntoIterator<Item = &'a Platform>,
) -> Option<usize> {
    candidates.into_iter().position(|c| wanted.matches(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_is_honoured() {
        let v7: Platform = "linux/arm/v7".parse().unwrap();
        let v6: Platform = "linux/arm/v6".parse().unwrap();
        let list = [v6.clone(), v7.clone()];
        assert_eq!(choose(&v7, &list), Some(1));
        assert_eq!(choose(&"linux/arm".parse().unwrap(), &list), Some(0));
        assert!("linux".parse::<Platform>().is_err());
    }
}

//! Warnings: inputs that were ignored, cleaned or only partly read (bad
//! whiteouts, unclean paths, metadata past its budget, layers skipped).
//! They reach the analysis JSON as `warnings[]` and the text report.

use serde::{Deserialize, Serialize};

/// What kind of input a warning is about. Stable identifiers, like finding
/// kinds: new ones may be added, none is renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// Entries whose paths were absolute or climbed with `..`: cleaned and
    /// rooted as containerd does.
    UncleanPath,
    /// Whiteouts with an empty, `.` or `..` name: ignored.
    BadWhiteout,
    /// Hard links whose target did not exist when they were applied:
    /// ignored, as containerd refuses them.
    DanglingHardLink,
    /// Metadata files (RECORD, METADATA, dpkg lists) past the capture
    /// budget: not kept, so sizes fall back to the filesystem.
    MetadataNotCaptured,
    /// Something else, said in the message.
    Other,
}

/// One warning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// The layer (0 = bottom), when one layer is concerned.
    #[serde(default)]
    pub layer: Option<u32>,
    /// How many entries it concerns.
    pub count: u64,
    /// One of them, as a path (control characters escaped).
    #[serde(default)]
    pub example: Option<String>,
    /// What was done, in a sentence.
    pub message: String,
}

impl Warning {
    /// A warning about `count` entries, one of which is `example`.
    pub fn new(kind: WarningKind, count: u64, example: Option<String>, message: String) -> Self {
        Warning {
            kind,
            layer: None,
            count,
            example: example.map(|e| crate::text::escape_controls(&e).into_owned()),
            message,
        }
    }
}

/// Counts entries of one kind as a layer is read, keeping the first as an
/// example, and turns into a [`Warning`] if any were seen.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    count: u64,
    example: Option<String>,
}

impl Tally {
    /// Notes one entry (its path as displayed).
    pub fn note(&mut self, example: impl FnOnce() -> String) {
        if self.count == 0 {
            self.example = Some(example());
        }
        self.count += 1;
    }

    /// How many were noted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The warning, when something was noted; `message` gets the count.
    pub fn warning(
        self,
        kind: WarningKind,
        message: impl FnOnce(u64) -> String,
    ) -> Option<Warning> {
        (self.count > 0).then(|| Warning::new(kind, self.count, self.example, message(self.count)))
    }
}

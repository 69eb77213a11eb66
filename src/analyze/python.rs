//! Python environments and distributions (see "Python and ML semantics" in
//! DESIGN.md): bytes per distribution, duplicated distributions and native
//! libraries, GPU libraries.

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::model::Image;

/// The `python` object of the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PythonReport {
    /// Every `site-packages` / `dist-packages` of the final filesystem.
    pub environments: Vec<Environment>,
}

/// One environment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Environment {
    /// `/usr/local/lib/python3.11/site-packages`.
    pub path: String,
    /// The Python version, when known (`3.11`).
    pub python: Option<String>,
    /// Distributions, largest first.
    pub distributions: Vec<Distribution>,
    /// Bytes of files in the environment that no distribution claims.
    pub unclaimed_bytes: u64,
    /// How many such files.
    pub unclaimed_files: u64,
}

/// One installed distribution.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Distribution {
    /// Name as in METADATA.
    pub name: String,
    /// Version as in METADATA.
    pub version: String,
    /// Bytes of its files as found in the final filesystem.
    pub bytes: u64,
    /// How many of its files are in the final filesystem.
    pub files: u64,
    /// The layer that installed it (holds its metadata).
    pub layer: u32,
}

/// Finds the environments and distributions of the final filesystem.
pub fn report(_image: &Image) -> PythonReport {
    PythonReport::default()
}

/// Python and ML findings.
pub fn findings(_image: &Image, _report: &PythonReport) -> Vec<Finding> {
    Vec::new()
}

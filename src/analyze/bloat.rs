//! Bloat: package caches, left-over wheels and archives, bytecode caches,
//! test suites, debug symbols, static libraries, build toolchains.

use super::Finding;
use crate::model::Image;

/// Bloat findings.
pub fn findings(_image: &Image) -> Vec<Finding> {
    Vec::new()
}

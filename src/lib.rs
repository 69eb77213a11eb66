//! layerscope: why a container image is big and slow to pull, and how to fix
//! its Dockerfile, with the bytes each fix saves.
//!
//! Data flows one way (see `ARCHITECTURE.md`):
//!
//! ```text
//! source ──► scan ──► model ──► analyze ──► report / policy
//! ```
//!
//! [`pipeline`] strings the stages together for the commands.

pub mod analyze;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod digest;
pub mod display;
pub mod dockerfile;
pub mod error;
#[cfg(any(test, feature = "fixture"))]
pub mod fixture;
pub mod model;
pub mod packages;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod report;
pub mod scan;
pub mod settings;
pub mod source;

pub use digest::{DiffId, Digest};
pub use error::Error;

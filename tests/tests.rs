//! The integration tests: one binary, one module per area.

mod support;

mod analyze;
mod cache;
mod check;
mod daemon;
mod diff;
mod dockerfile;
mod model;
mod output;
mod packages;
mod pull;
mod python;
mod registry;
mod scan;
mod snapshots;
mod sources;
mod storage;
mod verify;

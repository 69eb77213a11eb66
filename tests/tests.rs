//! The integration tests: one binary, one module per area.

mod support;

mod analyze;
mod archives;
mod cache;
mod check;
mod daemon;
mod diff;
mod dockerfile;
mod drift;
mod drift_build;
mod explore;
mod hostile;
mod html;
mod model;
mod output;
mod package_reports;
mod packages;
mod peers;
mod pull;
mod python;
mod registry;
mod rewrite_build;
mod rpm;
mod scan;
mod snapshots;
mod sources;
mod storage;
mod text_report;
mod verify;

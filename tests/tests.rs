//! The integration tests: one binary, one module per area.

mod support;

mod analyze;
mod check;
mod diff;
mod model;
mod scan;
mod sources;

//! The integration tests: one binary, one module per area.

mod support;

mod analyze;
mod model;
mod scan;
mod sources;
mod pull;
mod dockerfile;

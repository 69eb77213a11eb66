//! The integration tests: one binary, one module per area.

mod support;

mod analyze;
mod model;
mod pull;
mod scan;
mod sources;

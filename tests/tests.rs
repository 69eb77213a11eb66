//! The integration tests: one binary, one module per area.

mod support;

mod analyze;
mod model;
mod registry;
mod scan;
mod sources;

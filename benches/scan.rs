//! Scanner benchmarks.
fn main() {}

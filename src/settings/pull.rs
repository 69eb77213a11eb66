//! The pull model's flags (`--bandwidth`, `--concurrency`; `--have` images
//! are read by the pipeline) resolved into [`PullOptions`].

use crate::analyze::pull::{PullOptions, parse_bandwidth};
use crate::cli::PullFlags;
use crate::error::Error;

/// Resolves the pull flags.
pub fn resolve(flags: &PullFlags) -> Result<PullOptions, Error> {
    let bandwidth = parse_bandwidth(&flags.bandwidth).map_err(|e| Error::Flag {
        flag: "bandwidth",
        value: flags.bandwidth.clone(),
        reason: e.to_string(),
        hint: None,
    })?;
    Ok(PullOptions {
        bandwidth_bits_per_second: bandwidth,
        concurrency: flags.concurrency.max(1),
        ..Default::default()
    })
}

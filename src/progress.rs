//! Progress bars on stderr: one per layer being read (bytes, rate, ETA).
//!
//! Drawn only when the commands decided so (stderr is a terminal and no
//! `--quiet`); otherwise every call here is a no-op and nothing reaches
//! stderr. The pipeline wraps each layer's `Read` with [`LayerBar::wrap`],
//! which counts the blob bytes as the scanner pulls them.

use std::io::Read;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The set of bars of one analysis (or nothing, when disabled).
pub struct Progress {
    multi: Option<MultiProgress>,
}

/// The bar of one layer.
pub struct LayerBar {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Bars on stderr when `enabled`, nothing otherwise.
    pub fn new(enabled: bool) -> Progress {
        Progress {
            multi: enabled.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Progress that draws nothing.
    pub fn hidden() -> Progress {
        Progress { multi: None }
    }

    /// Whether bars are drawn.
    pub fn enabled(&self) -> bool {
        self.multi.is_some()
    }

    /// A bar for layer `index` whose blob is `bytes` long, labelled `label`.
    pub fn layer(&self, index: usize, bytes: u64, label: &str) -> LayerBar {
        let Some(multi) = &self.multi else {
            return LayerBar { bar: None };
        };
        let style = ProgressStyle::with_template(
            "{prefix:>9} {msg:19} [{bar:30}] {decimal_bytes:>9}/{decimal_total_bytes:<9} {decimal_bytes_per_sec:>11} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = multi.add(ProgressBar::new(bytes).with_style(style));
        bar.set_prefix(format!("layer {index}"));
        bar.set_message(label.to_owned());
        LayerBar { bar: Some(bar) }
    }
}

impl LayerBar {
    /// Wraps a layer stream so reading it advances the bar.
    pub fn wrap<'a>(&self, read: Box<dyn Read + Send + 'a>) -> Box<dyn Read + Send + 'a> {
        match &self.bar {
            Some(bar) => Box::new(bar.wrap_read(read)),
            None => read,
        }
    }

    /// Marks the layer done (read from the cache, or scanned to its end).
    pub fn finish(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_owned());
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn disabled_progress_passes_bytes_through() {
        let progress = Progress::hidden();
        assert!(!progress.enabled());
        let bar = progress.layer(0, 5, "x");
        let mut out = Vec::new();
        bar.wrap(Box::new(&b"hello"[..]))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        bar.finish("done");
    }

    #[test]
    fn enabled_bar_counts_what_is_read() {
        let progress = Progress {
            multi: Some(MultiProgress::with_draw_target(ProgressDrawTarget::hidden())),
        };
        let bar = progress.layer(3, 11, "sha256:ab");
        let mut out = Vec::new();
        bar.wrap(Box::new(&b"hello world"[..]))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(bar.bar.as_ref().unwrap().position(), 11);
    }
}

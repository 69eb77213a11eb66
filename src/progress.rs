//! Progress bars on stderr: one overall bar (layers done, bytes, rate,
//! ETA) and a bar per layer being read, cleared when the layer is done;
//! everything is cleared when the analysis ends, so the report starts on a
//! clean screen. Lines fit 80 columns.
//!
//! Drawn only when the commands decided so (stderr is a terminal and no
//! `--quiet`); otherwise every call here is a no-op and nothing reaches
//! stderr. The pipeline wraps each layer's `Read` with [`LayerBar::wrap`],
//! which counts the blob bytes as the scanner pulls them.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The set of bars of one analysis (or nothing, when disabled).
pub struct Progress {
    multi: Option<MultiProgress>,
    overall: Option<Overall>,
}

/// The overall bar and its layer count.
#[derive(Clone)]
struct Overall {
    bar: ProgressBar,
    layers: u64,
    done: Arc<AtomicU64>,
}

/// The bar of one layer.
pub struct LayerBar {
    bar: Option<ProgressBar>,
    overall: Option<Overall>,
}

impl Progress {
    /// Bars on stderr when `enabled`, nothing otherwise.
    pub fn new(enabled: bool) -> Progress {
        Progress {
            multi: enabled.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            overall: None,
        }
    }

    /// Progress that draws nothing.
    pub fn hidden() -> Progress {
        Progress {
            multi: None,
            overall: None,
        }
    }

    /// Whether bars are drawn.
    pub fn enabled(&self) -> bool {
        self.multi.is_some()
    }

    /// Starts the overall bar: `layers` layers, `bytes` blob bytes in all.
    pub fn total(&mut self, layers: usize, bytes: u64) {
        let Some(multi) = &self.multi else { return };
        let style = ProgressStyle::with_template(
            "{msg:>14} [{bar:24}] {decimal_bytes:>9}/{decimal_total_bytes:<9} {decimal_bytes_per_sec:>11} {eta:>4}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = multi.add(ProgressBar::new(bytes).with_style(style));
        let overall = Overall {
            bar,
            layers: layers as u64,
            done: Arc::new(AtomicU64::new(0)),
        };
        overall.show();
        self.overall = Some(overall);
    }

    /// A bar for layer `index` whose blob is `bytes` long, labelled `label`.
    pub fn layer(&self, index: usize, bytes: u64, label: &str) -> LayerBar {
        let Some(multi) = &self.multi else {
            return LayerBar {
                bar: None,
                overall: None,
            };
        };
        let style = ProgressStyle::with_template(
            "  layer {prefix:<3} {msg:12} [{bar:24}] {decimal_bytes:>9}/{decimal_total_bytes:<9}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = multi.add(ProgressBar::new(bytes).with_style(style));
        bar.set_prefix(index.to_string());
        bar.set_message(label.chars().take(12).collect::<String>());
        LayerBar {
            bar: Some(bar),
            overall: self.overall.clone(),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(o) = &self.overall {
            o.bar.finish_and_clear();
        }
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

impl Overall {
    fn show(&self) {
        self.bar.set_message(format!(
            "{}/{} layers",
            self.done.load(Ordering::Relaxed),
            self.layers
        ));
    }
}

/// Counts what is read on the layer's bar and the overall one.
struct Counted<'a> {
    inner: Box<dyn Read + Send + 'a>,
    bar: ProgressBar,
    overall: Option<ProgressBar>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        if let Some(o) = &self.overall {
            o.inc(n as u64);
        }
        Ok(n)
    }
}

impl LayerBar {
    /// Wraps a layer stream so reading it advances the bars.
    pub fn wrap<'a>(&self, read: Box<dyn Read + Send + 'a>) -> Box<dyn Read + Send + 'a> {
        match &self.bar {
            Some(bar) => Box::new(Counted {
                inner: read,
                bar: bar.clone(),
                overall: self.overall.as_ref().map(|o| o.bar.clone()),
            }),
            None => read,
        }
    }

    /// Marks the layer done (read from the cache, or scanned to its end):
    /// its bar goes away, the overall bar counts it.
    pub fn finish(&self, _message: &str) {
        if let Some(bar) = &self.bar {
            if let Some(o) = &self.overall {
                // A cached layer was not read: count its bytes as done.
                let rest = bar.length().unwrap_or(0).saturating_sub(bar.position());
                o.bar.inc(rest);
                o.done.fetch_add(1, Ordering::Relaxed);
                o.show();
            }
            bar.finish_and_clear();
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
        let mut progress = Progress {
            multi: Some(MultiProgress::with_draw_target(ProgressDrawTarget::hidden())),
            overall: None,
        };
        progress.total(2, 11 + 7);
        let bar = progress.layer(3, 11, "sha256:ab");
        let mut out = Vec::new();
        bar.wrap(Box::new(&b"hello world"[..]))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(bar.bar.as_ref().unwrap().position(), 11);
        bar.finish("scanned");
        // A cached layer counts as read when it finishes.
        progress.layer(4, 7, "sha256:cd").finish("cached");
        let overall = progress.overall.as_ref().unwrap();
        assert_eq!(overall.bar.position(), 18);
        assert_eq!(overall.done.load(Ordering::Relaxed), 2);
        assert!(bar.bar.as_ref().unwrap().is_finished());
    }
}

//! The download and unpack timeline (see the [`super`] module doc).

/// One layer as the pull model sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ModelLayer {
    /// Bytes to download (0: the node has it; it is neither downloaded nor
    /// unpacked).
    pub download_bytes: u64,
    /// Seconds to unpack it once downloaded.
    pub unpack_seconds: f64,
}

/// When each layer is downloaded and unpacked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// Per layer: download start and end, unpack end (seconds from the
    /// start of the pull; all 0 for layers not downloaded).
    pub layers: Vec<LayerTimes>,
    /// When the last download ends.
    pub download_seconds: f64,
    /// When the last layer is unpacked: the image is ready.
    pub ready_seconds: f64,
}

/// The times of one layer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LayerTimes {
    /// Download starts.
    pub start: f64,
    /// Download ends.
    pub end: f64,
    /// Unpack ends.
    pub unpacked: f64,
}

/// Runs the pull model (see the module doc) over `layers`, bottom first.
pub fn simulate(
    layers: &[ModelLayer],
    bandwidth_bits_per_second: u64,
    concurrency: u32,
    stream_bits_per_second: Option<u64>,
) -> Timeline {
    let slots = concurrency.max(1) as usize;
    let link = bandwidth_bits_per_second.max(1) as f64 / 8.0;
    let cap = stream_bits_per_second.map_or(link / slots as f64, |s| s.max(1) as f64 / 8.0);
    let mut times = vec![LayerTimes::default(); layers.len()];
    let mut active: Vec<(usize, f64)> = Vec::with_capacity(slots);
    let mut next = 0;
    let mut now = 0.0f64;
    loop {
        while active.len() < slots && next < layers.len() {
            if layers[next].download_bytes > 0 {
                active.push((next, layers[next].download_bytes as f64));
                times[next].start = now;
            }
            next += 1;
        }
        if active.is_empty() {
            break;
        }
        let rate = cap.min(link / active.len() as f64);
        let least = active.iter().map(|a| a.1).fold(f64::INFINITY, f64::min);
        now += least / rate;
        for a in &mut active {
            a.1 -= least;
            if a.1 <= 0.0 {
                times[a.0].end = now;
            }
        }
        active.retain(|a| a.1 > 0.0);
    }
    let mut applied = 0.0f64;
    for (t, l) in times.iter_mut().zip(layers) {
        if l.download_bytes > 0 {
            applied = applied.max(t.end) + l.unpack_seconds;
            t.unpacked = applied;
        }
    }
    let download_seconds = times.iter().map(|t| t.end).fold(0.0, f64::max);
    Timeline {
        layers: times,
        download_seconds,
        ready_seconds: applied,
    }
}

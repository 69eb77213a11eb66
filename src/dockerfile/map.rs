//! Instructions <-> layers. The image config's history has one entry per
//! instruction of every stage that went into the image (the base image's
//! first); entries that made a layer are not `empty_layer`. The final
//! stage's instructions are matched to history entries from the top down, so
//! everything below the first matched entry is the base image.

use super::history::{HistoryStep, parse_created_by};
use super::parse::{Args, Dockerfile, Instruction, Keyword};
use crate::source::ImageInfo;

/// One instruction of the image's build, tied to its layer when it made one.
#[derive(Clone, Debug)]
pub struct Step {
    /// The instruction's keyword.
    pub keyword: Keyword,
    /// The Dockerfile line, when a Dockerfile was given.
    pub line: Option<u32>,
    /// The index in the final stage's instructions, when a Dockerfile was
    /// given.
    pub instruction: Option<usize>,
    /// The index in the config's history, when matched.
    pub history: Option<usize>,
    /// The history entry's `created_by`, when matched.
    pub created_by: Option<String>,
    /// The instruction as the history entry records it.
    pub recorded: Option<HistoryStep>,
    /// The layer it made, 0 = bottom.
    pub layer: Option<u32>,
}

/// The final stage (or, without a Dockerfile, the build found in the
/// history) tied to the image's layers.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// The steps of the final stage, in order.
    pub steps: Vec<Step>,
    /// How many layers at the bottom belong to the base image.
    pub base_layers: usize,
    /// The line of the final stage's `FROM`, when a Dockerfile was given.
    pub from_line: Option<u32>,
}

impl Mapping {
    /// The step that made `layer`.
    pub fn step_for_layer(&self, layer: u32) -> Option<&Step> {
        self.steps.iter().find(|s| s.layer == Some(layer))
    }

    /// The position (in `steps`) of the step that made `layer`.
    pub fn step_index(&self, layer: u32) -> Option<usize> {
        self.steps.iter().position(|s| s.layer == Some(layer))
    }

    /// The Dockerfile line responsible for `layer`: its instruction's, or
    /// the final `FROM` for a base-image layer.
    pub fn line_for_layer(&self, layer: u32) -> Option<u32> {
        match self.step_for_layer(layer) {
            Some(step) => step.line,
            None if (layer as usize) < self.base_layers => self.from_line,
            None => None,
        }
    }
}

/// How many of the image's layers belong to the base image: with a
/// Dockerfile, every layer below the final stage's first instruction;
/// without one, what the history tells (see [`map`]).
pub fn base_layer_count(info: &ImageInfo, dockerfile: Option<&Dockerfile>) -> usize {
    map(info, dockerfile).base_layers
}

/// The layer of each history entry (`None` for empty-layer entries and for
/// entries whose layer is missing), aligned exactly as
/// [`crate::source::config::ImageConfig::layer_history`] aligns them.
pub fn history_layers(info: &ImageInfo) -> Vec<Option<u32>> {
    let history = &info.config.history;
    let layers = info.layers.len();
    let nonempty = history.iter().filter(|h| !h.empty_layer).count();
    let offset = nonempty.saturating_sub(layers);
    let mut k = 0usize;
    history
        .iter()
        .map(|h| {
            if h.empty_layer {
                return None;
            }
            let layer = if k >= offset && k - offset < layers {
                Some((k - offset) as u32)
            } else {
                None
            };
            k += 1;
            layer
        })
        .collect()
}

/// Ties the final stage of `dockerfile` (or, without one, the history
/// alone) to the image's layers.
pub fn map(info: &ImageInfo, dockerfile: Option<&Dockerfile>) -> Mapping {
    let layer_of = history_layers(info);
    let recorded: Vec<HistoryStep> = info
        .config
        .history
        .iter()
        .map(|h| parse_created_by(&h.created_by))
        .collect();
    match dockerfile.and_then(|d| d.final_stage()) {
        Some(stage) => {
            let mut steps: Vec<Step> = stage
                .instructions
                .iter()
                .enumerate()
                .map(|(i, inst)| Step {
                    keyword: inst.keyword,
                    line: Some(inst.line),
                    instruction: Some(i),
                    history: None,
                    created_by: None,
                    recorded: None,
                    layer: None,
                })
                .collect();
            // The WORKDIR in effect at each instruction (classic builders
            // record `COPY . .` with its resolved destination).
            let mut workdirs = Vec::with_capacity(stage.instructions.len());
            let mut cwd = "/".to_owned();
            for inst in &stage.instructions {
                workdirs.push(cwd.clone());
                if let (Keyword::Workdir, Args::Text(dir)) = (inst.keyword, &inst.args) {
                    cwd = join(&cwd, dir);
                }
            }
            let mut ptr = recorded.len();
            for step in steps.iter_mut().rev() {
                let mut j = ptr;
                while j > 0 {
                    j -= 1;
                    let inst = step.instruction.and_then(|i| stage.instructions.get(i));
                    let cwd = step
                        .instruction
                        .and_then(|i| workdirs.get(i))
                        .map_or("/", String::as_str);
                    if compatible(step.keyword, recorded[j].keyword)
                        && inst.is_none_or(|inst| same_text(inst, &recorded[j], cwd))
                    {
                        step.history = Some(j);
                        ptr = j;
                        break;
                    }
                    // A layer-bearing entry is never skipped: the
                    // instruction made no entry of its own.
                    if !info.config.history[j].empty_layer {
                        break;
                    }
                }
            }
            let first_matched = steps.iter().filter_map(|s| s.history).min();
            for step in &mut steps {
                if let Some(j) = step.history {
                    step.layer = layer_of[j];
                    step.created_by = Some(info.config.history[j].created_by.clone());
                    step.recorded = Some(recorded[j].clone());
                }
            }
            let base_layers = match first_matched {
                Some(h0) => layer_of[..h0].iter().flatten().count(),
                None if info.config.history.is_empty() => {
                    // No history at all: the last layers are the final
                    // stage's, one per file-writing instruction.
                    let own = stage
                        .instructions
                        .iter()
                        .filter(|i| i.keyword.makes_layer())
                        .count();
                    let base = info.layers.len().saturating_sub(own);
                    for (layer, step) in
                        (base as u32..).zip(steps.iter_mut().filter(|s| s.keyword.makes_layer()))
                    {
                        step.layer = Some(layer);
                    }
                    base
                }
                None => info.layers.len(),
            };
            Mapping {
                steps,
                base_layers,
                from_line: Some(stage.from_line),
            }
        }
        None => {
            let start = history_build_start(info);
            let steps = (start..recorded.len())
                .map(|j| Step {
                    keyword: recorded[j].keyword,
                    line: None,
                    instruction: None,
                    history: Some(j),
                    created_by: Some(info.config.history[j].created_by.clone()),
                    recorded: Some(recorded[j].clone()),
                    layer: layer_of[j],
                })
                .collect();
            let base_layers = layer_of[..start].iter().flatten().count();
            Mapping {
                steps,
                base_layers,
                from_line: None,
            }
        }
    }
}

/// Whether a history entry records this very instruction: a `RUN`'s
/// command (whitespace collapsed, either containing the other, since
/// builders differ in what they strip), a `COPY`/`ADD`'s destination.
/// Other instructions match on the keyword alone.
fn same_text(inst: &Instruction, recorded: &HistoryStep, cwd: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    match &inst.args {
        Args::Command {
            command,
            exec,
            heredocs,
        } if inst.keyword == Keyword::Run => {
            if *exec || !heredocs.is_empty() {
                return true;
            }
            let (a, b) = (norm(command), norm(&recorded.text));
            a == b || (!a.is_empty() && b.contains(&a)) || (!b.is_empty() && a.contains(&b))
        }
        Args::Copy { dest, .. } => match recorded.copy_dest() {
            Some(d) => {
                let (a, b) = (dest.trim_end_matches('/'), d.trim_end_matches('/'));
                a == b
                    || join(cwd, a).trim_end_matches('/') == b
                    || b.contains('$')
                    || a.is_empty()
                    || b.is_empty()
            }
            None => true,
        },
        _ => true,
    }
}

/// `dir` resolved against `cwd` (`.` and `./x` included).
fn join(cwd: &str, dir: &str) -> String {
    if dir.starts_with('/') {
        return dir.to_owned();
    }
    let mut out = cwd.trim_end_matches('/').to_owned();
    for part in dir.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if let Some(i) = out.rfind('/') {
                    out.truncate(i);
                }
            }
            p => {
                out.push('/');
                out.push_str(p);
            }
        }
    }
    if out.is_empty() { "/".to_owned() } else { out }
}

fn compatible(instruction: Keyword, recorded: Keyword) -> bool {
    instruction == recorded
        || matches!(
            (instruction, recorded),
            (Keyword::Copy, Keyword::Add) | (Keyword::Add, Keyword::Copy)
        )
}

/// Without a Dockerfile: the first history entry of the last build.
/// buildah and podman mark it with a `FROM <base>` comment (later entries
/// carry `FROM <previous image id>`); otherwise the base image is taken to
/// end with its last `CMD`/`ENTRYPOINT` that still has layers above it.
fn history_build_start(info: &ImageInfo) -> usize {
    let history = &info.config.history;
    let buildah = history
        .iter()
        .position(|h| h.comment.as_deref().is_some_and(|c| c.starts_with("FROM ")));
    if let Some(i) = buildah {
        return i;
    }
    let mut start = 0;
    for (j, h) in history.iter().enumerate() {
        let k = parse_created_by(&h.created_by).keyword;
        if matches!(k, Keyword::Cmd | Keyword::Entrypoint)
            && history[j + 1..].iter().any(|h| !h.empty_layer)
        {
            start = j + 1;
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::config::{HistoryEntry, ImageConfig};
    use crate::source::{LayerInfo, Platform};

    fn info(history: &[(&str, bool)]) -> ImageInfo {
        let layers = history.iter().filter(|h| !h.1).count();
        ImageInfo {
            reference: "test".into(),
            manifest_digest: None,
            platform: Platform {
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None,
            },
            config: ImageConfig {
                history: history
                    .iter()
                    .map(|(c, e)| HistoryEntry {
                        created_by: (*c).into(),
                        empty_layer: *e,
                        comment: None,
                        created: None,
                    })
                    .collect(),
                ..Default::default()
            },
            layers: (0..layers)
                .map(|i| LayerInfo {
                    digest: crate::digest::Digest::of(&[i as u8]),
                    diff_id: None,
                    media_type: String::new(),
                    blob_bytes: 0,
                    compressed_bytes: Some(0),
                    created_by: None,
                })
                .collect(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn buildkit_history_maps_to_lines() {
        let image = info(&[
            ("/bin/sh -c #(nop) ADD file:abc in / ", false),
            ("/bin/sh -c #(nop)  CMD [\"bash\"]", true),
            ("WORKDIR /app", false),
            ("COPY requirements.txt . # buildkit", false),
            (
                "RUN /bin/sh -c pip install -r requirements.txt # buildkit",
                false,
            ),
            ("COPY . . # buildkit", false),
            ("CMD [\"python\", \"app.py\"]", true),
        ]);
        let text = "FROM python:3.12\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\nCMD [\"python\", \"app.py\"]\n";
        let df = Dockerfile::parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"));
        let m = map(&image, Some(&df));
        assert_eq!(m.base_layers, 1);
        let lines: Vec<(Option<u32>, Option<u32>)> =
            m.steps.iter().map(|s| (s.line, s.layer)).collect();
        assert_eq!(
            lines,
            vec![
                (Some(2), Some(1)),
                (Some(3), Some(2)),
                (Some(4), Some(3)),
                (Some(5), Some(4)),
                (Some(6), None)
            ]
        );
        assert_eq!(m.line_for_layer(0), Some(1));
        assert_eq!(base_layer_count(&image, None), 1);
    }
}

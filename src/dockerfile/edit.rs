//! Edits the rewriter makes (indexes are final-stage instruction indexes),
//! and the choice of the edits applied together: what the user selected
//! (`--apply`), larger savings first, none that undoes another.

use std::collections::HashSet;

use super::advice::{Advice, ChangeKind, Class, Selection};

/// Where a flag is inserted in a `RUN`'s command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// After each `pip install` / `pip download`.
    Pip,
    /// After each `uv` that runs a cached subcommand.
    Uv,
    /// After each `apt-get install`.
    AptInstall,
}

/// One change to the Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Append a command to a `RUN` (at the end of its merged group, if it
    /// is merged with others).
    Append {
        /// The RUN.
        run: usize,
        /// The command.
        command: String,
    },
    /// Join every `RUN` from `first` to `last` into one `RUN` where the last
    /// of them stands; the metadata instructions between stay before it.
    Merge {
        /// The first RUN.
        first: usize,
        /// The last RUN.
        last: usize,
    },
    /// Insert a flag after each anchor in a `RUN`'s command.
    Flag {
        /// The RUN.
        run: usize,
        /// Where.
        at: Anchor,
        /// The flag (`--no-cache-dir`).
        flag: String,
    },
    /// Add `--name=value` flags to a `COPY`/`ADD`.
    CopyFlags {
        /// The COPY/ADD.
        copy: usize,
        /// (`chown` or `chmod`, value).
        flags: Vec<(String, String)>,
    },
    /// Delete an instruction.
    Delete {
        /// The instruction.
        inst: usize,
    },
    /// Replace an instruction's text.
    Replace {
        /// The instruction.
        inst: usize,
        /// The new text.
        text: String,
    },
    /// Copy the dependency manifests first, install, then copy the source.
    ManifestsFirst {
        /// The volatile COPY (`COPY . .`).
        copy: usize,
        /// The install RUN.
        install: usize,
        /// The manifest files, as the install names them.
        manifests: Vec<String>,
    },
    /// The multi-stage split: the final stage becomes the build stage and
    /// a runtime stage follows it.
    Split {
        /// `AS name` to give the final stage's `FROM` (none when it has one).
        alias: Option<String>,
        /// The runtime stage's text.
        stage: String,
        /// The packages the runtime stage has (those it installs and their
        /// dependencies): the packages above the base it does not keep are
        /// its saving.
        kept: Vec<String>,
    },
    /// Pin versions (`optimize --apply pin`): applied to the rewritten
    /// text as a last pass (`dockerfile::pin`), so it touches no
    /// instruction the other edits see.
    Pin,
}

/// What the accepted edits touch so far.
#[derive(Default)]
struct Footprint {
    /// Instructions whose text changes (appends, flags, replacements).
    changed: HashSet<usize>,
    /// Instructions deleted.
    deleted: HashSet<usize>,
    /// Instructions replaced wholesale.
    replaced: HashSet<usize>,
    /// Instructions moved.
    moved: HashSet<usize>,
    /// Merge ranges.
    ranges: Vec<(usize, usize)>,
    /// (COPY, flag name) set.
    copy_flags: HashSet<(usize, String)>,
    /// Whether the stages are split.
    split: bool,
}

impl Footprint {
    fn in_range(&self, i: usize) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= i && i <= b)
    }

    /// Why `edit` cannot join the accepted ones, if it cannot.
    fn conflict(&self, edit: &Edit) -> bool {
        match edit {
            Edit::Append { run, .. } | Edit::Flag { run, .. } => {
                self.deleted.contains(run) || self.replaced.contains(run)
            }
            Edit::Merge { first, last } => {
                (*first..=*last).any(|i| self.moved.contains(&i) || self.replaced.contains(&i))
            }
            Edit::CopyFlags { copy, flags } => {
                self.deleted.contains(copy)
                    || flags
                        .iter()
                        .any(|(n, _)| self.copy_flags.contains(&(*copy, n.clone())))
            }
            Edit::Delete { inst } => {
                self.changed.contains(inst)
                    || self.moved.contains(inst)
                    || self.replaced.contains(inst)
            }
            Edit::Replace { inst, .. } => {
                self.changed.contains(inst)
                    || self.deleted.contains(inst)
                    || self.moved.contains(inst)
                    || self.replaced.contains(inst)
                    || self.in_range(*inst)
            }
            Edit::Pin => false,
            Edit::ManifestsFirst { copy, install, .. } => {
                !self.moved.is_empty()
                    || self.in_range(*install)
                    || self.deleted.contains(install)
                    || self.deleted.contains(copy)
            }
            Edit::Split { .. } => self.split,
        }
    }

    fn add(&mut self, edit: &Edit) {
        match edit {
            Edit::Append { run, .. } | Edit::Flag { run, .. } => {
                self.changed.insert(*run);
            }
            Edit::Merge { first, last } => self.ranges.push((*first, *last)),
            Edit::CopyFlags { copy, flags } => {
                self.changed.insert(*copy);
                for (n, _) in flags {
                    self.copy_flags.insert((*copy, n.clone()));
                }
            }
            Edit::Delete { inst } => {
                self.deleted.insert(*inst);
            }
            Edit::Replace { inst, .. } => {
                self.replaced.insert(*inst);
            }
            Edit::ManifestsFirst { copy, install, .. } => {
                self.moved.insert(*copy);
                self.moved.insert(*install);
            }
            Edit::Split { .. } => self.split = true,
            Edit::Pin => {}
        }
    }
}

/// Decides which advice the rewrite applies: safe changes always, review
/// changes when selected; in the given order (larger savings first), an
/// edit that conflicts with one already accepted is left out with the
/// reason. Sets `applied` and `reason` on every advice.
pub fn settle(advice: &mut [Advice], selection: &Selection) {
    let mut fp = Footprint::default();
    let mut accepted_lines: Vec<(Vec<usize>, Option<u32>)> = Vec::new();
    for a in advice.iter_mut() {
        if a.edits.is_empty() {
            a.applied = false;
            if a.reason.is_none() {
                a.reason = Some("no automatic rewrite for this; change it by hand".to_owned());
            }
            continue;
        }
        if a.class == Class::Review && !selection.selects(a.change_kind) {
            a.applied = false;
            a.reason = Some(format!(
                "review change (it changes what the image contains): add `--apply {}` or `--apply all`",
                a.change_kind.id()
            ));
            continue;
        }
        if let Some(e) = a.edits.iter().find(|e| fp.conflict(e)) {
            let touched = touched(e);
            let other = accepted_lines
                .iter()
                .find(|(t, _)| t.iter().any(|i| touched.contains(i)))
                .and_then(|(_, l)| *l);
            a.applied = false;
            a.reason = Some(match other {
                Some(l) => format!("conflicts with the larger change at line {l}"),
                None => "conflicts with a larger change".to_owned(),
            });
            continue;
        }
        for e in &a.edits {
            fp.add(e);
        }
        accepted_lines.push((a.edits.iter().flat_map(touched).collect(), a.line));
        a.applied = true;
        a.reason = None;
    }
}

/// Takes out what two applied changes would count twice, after
/// [`settle`]:
/// - with the multi-stage split applied, the packages only a
///   recommendation installed are not in the runtime stage (it installs
///   with `--no-install-recommends`): the split counts them, and
///   `no-install-recommends` keeps only those the runtime stage has;
/// - a change whose files (paths and layers) a larger applied change
///   removes already (`delete-leftovers` of a wheel that `merge-runs`
///   takes out with its deleting RUN) is not applied, with the reason.
pub fn discount(advice: &mut [Advice]) {
    let kept: Option<HashSet<String>> = advice
        .iter()
        .filter(|a| a.applied)
        .flat_map(|a| a.edits.iter())
        .find_map(|e| match e {
            Edit::Split { kept, .. } => Some(kept.iter().cloned().collect()),
            _ => None,
        });
    if let Some(kept) = kept {
        for a in advice.iter_mut().filter(|a| {
            a.applied
                && a.change_kind == ChangeKind::NoInstallRecommends
                && !a.package_sizes.is_empty()
        }) {
            let (b, c) = a
                .package_sizes
                .iter()
                .filter(|(n, _)| kept.contains(*n))
                .fold((0, 0), |(b, c), (_, &(pb, pc))| (b + pb, c + pc));
            a.bytes = Some(b);
            a.compressed_bytes = Some(c);
            a.change.push_str(
                "; with the multi-stage split, the runtime stage leaves them out already (their bytes are counted there)",
            );
        }
    }
    for j in 0..advice.len() {
        let x = &advice[j];
        if !x.applied
            || !x.shrinks_image
            || x.paths.is_empty()
            || x.layers.is_empty()
            || x.change_kind == ChangeKind::MultiStage
        {
            continue;
        }
        let covering = advice[..j].iter().find(|y| {
            y.applied
                && y.shrinks_image
                && y.change_kind != ChangeKind::MultiStage
                && x.layers.iter().all(|l| y.layers.contains(l))
                && x.paths.iter().all(|p| y.paths.contains(p))
                && x.bytes <= y.bytes
        });
        if let Some(y) = covering {
            let reason = format!(
                "`{}`{} removes these files already",
                y.change_kind.id(),
                y.line.map(|l| format!(" at line {l}")).unwrap_or_default()
            );
            advice[j].applied = false;
            advice[j].reason = Some(reason);
        }
    }
}

/// The instructions an edit touches.
fn touched(e: &Edit) -> Vec<usize> {
    match e {
        Edit::Append { run, .. } | Edit::Flag { run, .. } => vec![*run],
        Edit::Merge { first, last } => (*first..=*last).collect(),
        Edit::CopyFlags { copy, .. } => vec![*copy],
        Edit::Delete { inst } | Edit::Replace { inst, .. } => vec![*inst],
        Edit::ManifestsFirst { copy, install, .. } => vec![*copy, *install],
        Edit::Split { .. } => Vec::new(),
        Edit::Pin => Vec::new(),
    }
}

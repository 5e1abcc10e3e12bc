//! `predict` looks a plan up in an engine's state; `apply` records it there.

use std::collections::{BTreeMap, BTreeSet};

use crate::fingerprint::fingerprint;
use crate::predict::explain::explain_miss;
use crate::predict::plan::{plan, Plan, PlannedKind, PlannedStep};
use crate::predict::state::{CacheExport, Exports};
use crate::predict::state::{EngineState, Imported, Record};
use crate::profiles::{buildah, buildkit, classic, general, Builder};
use crate::step::backends::{self, Backend, Mode};
use crate::step::key::StepKey;
use crate::step::outcome::{Outcome, Prediction, Reason, StepPrediction};
use crate::step::Build;

/// What every step of one build is looked up with.
struct Lookup<'a> {
    state: &'a EngineState,
    imported: Imported<'a>,
    /// Imported records may serve steps (`bk.import-prefix`).
    import_usable: bool,
    /// Why every step rebuilds, whatever is cached (`--no-cache`, `--cache-from` on the classic
    /// builder, Buildah's layer cache off).
    forced: Option<Reason>,
    /// The only chains the local cache may serve: the held images `--cache-from` names, on the
    /// classic builder (`classic.cache-from-only`); `None`, any.
    sources: Option<BTreeSet<u64>>,
    /// Steps are looked up under their parent chain (`cascade`).
    cascades: bool,
    /// Per stage, the step of its first miss.
    first_miss: BTreeMap<usize, usize>,
    /// Per stage, whether its last step so far ran (was not served from cache).
    ran: BTreeMap<usize, bool>,
    /// Stages where a step ran though its key is cached (`buildah.bind-stage-keyed`), with that
    /// step: what follows hangs off the new layer, and a stage built FROM the stage too.
    relaid: BTreeMap<usize, usize>,
    /// The chains this build made so far: an earlier stage's result that a later step may reuse
    /// (`classic.in-build-reuse`, `buildah.in-build-reuse`).
    made: BTreeSet<u64>,
}

/// Predicts, for every step of `build`, whether `state`'s engine serves it from cache, and why.
pub fn predict(state: &EngineState, build: &Build) -> Prediction {
    predict_with_key_only(state, build).0
}

/// `predict`, and per step whether it is served by an imported key without its layer: such a
/// step is reported cached but leaves no result on the host (`bk.cache-mode`).
fn predict_with_key_only(state: &EngineState, build: &Build) -> (Prediction, Vec<bool>) {
    let profile = &state.profile;
    let plan = plan(profile, build);
    let imported = Imported::visible(state, build);
    let import_usable = buildkit::import_usable(profile, || {
        plan.steps.iter().all(|s| match &s.kind {
            PlannedKind::Step { chain, .. } => imported.contains(*chain),
            _ => true,
        })
    });
    let options = &build.options;
    let sources = classic::cache_from_sources(profile, options, &state.images);
    let forced = general::no_cache(profile, options)
        .or_else(|| classic::cache_from_only(profile, options, sources.as_ref()))
        .or_else(|| buildah::layers_off(profile));
    let mut lookup = Lookup {
        state,
        imported,
        import_usable,
        forced,
        sources,
        cascades: general::cascades(profile),
        first_miss: BTreeMap::new(),
        ran: BTreeMap::new(),
        relaid: BTreeMap::new(),
        made: BTreeSet::new(),
    };
    let mut steps = Vec::with_capacity(plan.steps.len());
    // Per step: (is a cacheable step, hit an imported key without its layer, the stages whose
    // results it needs: the one a COPY --from reads, those a RUN mounts from).
    let mut lazy: Vec<(bool, bool, Vec<usize>)> = Vec::with_capacity(plan.steps.len());
    // Stages with a step whose outcome the model cannot know (`copy.from-chain`).
    let mut unknown = BTreeSet::new();
    for planned in plan.steps {
        let is_step = matches!(planned.kind, PlannedKind::Step { .. });
        let needs: Vec<usize> = planned
            .reads_stage
            .into_iter()
            .chain(planned.bound_stages.iter().copied())
            .collect();
        lookup.inherit_relaid(&planned, &plan.stage_parents);
        let (outcome, key_only) = match follows_unknown(&mut unknown, &planned, &plan.stage_parents)
        {
            Some(outcome) => (outcome, false),
            None => lookup.outcome(build, &planned),
        };
        // A step only a failed solve recorded is unknown itself, but what follows it is not:
        // a later step of its chain is recorded only if that solve made it too (then it is
        // unknown the same way), or else certainly missing (`bk.failed-solve`).
        let uncertain = matches!(&planned.kind, PlannedKind::Step { chain, .. } if state.uncertain.contains(chain));
        if is_step && !uncertain && matches!(outcome, Outcome::Unsupported { .. }) {
            unknown.insert(planned.stage);
        }
        steps.push(StepPrediction {
            step: planned.step,
            stage: planned.stage,
            stage_name: planned.stage_name,
            instruction: planned.instruction,
            outcome,
        });
        lazy.push((is_step, key_only, needs));
    }
    settle_key_only_hits(&mut steps, &lazy, &plan.stage_parents);
    let key_only = (steps.iter().zip(&lazy))
        .map(|(s, (_, key_only, _))| *key_only && s.outcome.is_cached())
        .collect();
    let prediction = Prediction {
        profile: profile.name(),
        rejected: plan.rejected,
        steps,
    };
    (prediction, key_only)
}

/// The outcome of a step that follows one the model cannot know (`copy.from-chain`): in its
/// stage, in the stage it is built FROM, or in a stage it reads. Whether that one hit decides
/// whether this one can. A step keyed apart from its stage (`bk.link`) depends only on what it
/// reads.
fn follows_unknown(
    unknown: &mut BTreeSet<usize>,
    planned: &PlannedStep,
    stage_parents: &[Option<usize>],
) -> Option<Outcome> {
    let detached = match &planned.kind {
        PlannedKind::From => {
            if let Some(parent) = stage_parents.get(planned.stage).copied().flatten() {
                if unknown.contains(&parent) {
                    unknown.insert(planned.stage);
                }
            }
            return None;
        }
        PlannedKind::Settled(_) => return None,
        PlannedKind::Step { detached, .. } => *detached,
    };
    let after = (!detached && unknown.contains(&planned.stage))
        || planned.reads_stage.is_some_and(|s| unknown.contains(&s))
        || planned.mounted_stages.iter().any(|s| unknown.contains(s));
    after.then(|| Outcome::Unsupported {
        why: format!(
            "follows a step whose outcome the model cannot know (`{}`)",
            general::FROM_CHAIN.id
        ),
    })
}

impl Lookup<'_> {
    /// A planned step's outcome, and whether it hit an imported key without its layer.
    fn outcome(&mut self, build: &Build, planned: &PlannedStep) -> (Outcome, bool) {
        let (parent, chain, key, detached) = match &planned.kind {
            PlannedKind::From => {
                return (
                    general::from_outcome(&self.state.profile, &build.options),
                    false,
                )
            }
            PlannedKind::Settled(outcome) => return (outcome.clone(), false),
            PlannedKind::Step {
                parent,
                chain,
                key,
                detached,
            } => (*parent, *chain, key, *detached),
        };
        // A detached step (`bk.link`) is not explained by an earlier miss of its stage.
        let stage = (!detached).then_some(planned.stage);
        let (outcome, key_only) = match self.relaid_reason(planned, detached) {
            Some(reason) => (Outcome::Rebuilt { reason }, false),
            None => self.step_outcome(stage, parent, chain, key),
        };
        if outcome.is_rebuilt() {
            self.first_miss.entry(planned.stage).or_insert(planned.step);
            if classic::in_build_reuse(&self.state.profile).is_some() {
                self.made.insert(chain);
            }
        }
        self.ran.insert(planned.stage, outcome.is_rebuilt());
        (outcome, key_only)
    }

    /// Why a step runs although its chain may be cached: a stage it mounts ran its last step in
    /// this build (`buildah.bind-stage-keyed`), or an earlier step of its stage (or of the stage
    /// it is built FROM) did so, and it hangs off that new layer. `--no-cache` says it first.
    fn relaid_reason(&mut self, planned: &PlannedStep, detached: bool) -> Option<Reason> {
        if self.forced.is_some() {
            return None;
        }
        if let Some(step) = self.relaid.get(&planned.stage).filter(|_| !detached) {
            return Some(general::after_miss(*step));
        }
        let mounted = &planned.mounted_stages;
        mounted
            .iter()
            .any(|s| self.ran.get(s).copied().unwrap_or(false))
            .then(|| {
                self.relaid.insert(planned.stage, planned.step);
                buildah::mounted_stage_ran()
            })
    }

    /// A stage built FROM a stage with a re-laid layer starts on that new image.
    fn inherit_relaid(&mut self, planned: &PlannedStep, stage_parents: &[Option<usize>]) {
        let PlannedKind::From = planned.kind else {
            return;
        };
        let parent = stage_parents.get(planned.stage).copied().flatten();
        if let Some(step) = parent.and_then(|p| self.relaid.get(&p).copied()) {
            self.relaid.insert(planned.stage, step);
        }
    }

    fn step_outcome(
        &self,
        stage: Option<usize>,
        parent: u64,
        chain: u64,
        key: &StepKey,
    ) -> (Outcome, bool) {
        let state = self.state;
        let local = if self.cascades {
            state.records.contains_key(&chain)
                && self.sources.as_ref().is_none_or(|s| s.contains(&chain))
        } else {
            state.loose_keys.contains(&fingerprint(key))
        };
        if let Some(reason) = &self.forced {
            return (
                Outcome::Rebuilt {
                    reason: reason.clone(),
                },
                false,
            );
        }
        if let Some(reason) = general::made_content_rebuilds(&state.profile, key) {
            return (Outcome::Rebuilt { reason }, false);
        }
        if local && state.uncertain.contains(&chain) {
            return (buildkit::uncertain_record(), false);
        }
        if local {
            let rule = if key.has_sources() {
                general::COPY_CHECKSUM.id
            } else {
                general::TEXT_LITERAL.id
            };
            return (Outcome::Cached { rule, from: None }, false);
        }
        if let Some(rule) = classic::in_build_reuse(&state.profile)
            .filter(|_| self.cascades && self.made.contains(&chain))
        {
            return (Outcome::Cached { rule, from: None }, false);
        }
        if let Some(imported) = self.imported.get(chain).filter(|_| self.import_usable) {
            let outcome = Outcome::Cached {
                rule: buildkit::IMPORT_PREFIX.id,
                from: Some(imported.reference.to_string()),
            };
            return (outcome, !imported.layer);
        }
        let first_miss = stage.and_then(|s| self.first_miss.get(&s));
        let reason = match first_miss.filter(|_| self.cascades) {
            Some(first) => general::after_miss(*first),
            None => {
                let candidates: Vec<&StepKey> = state
                    .local_children(parent)
                    .chain(self.imported.children(parent))
                    .collect();
                if let Some(unknown) = general::made_content_unknown(key, &candidates) {
                    return (unknown, false);
                }
                explain_miss(key, &candidates)
            }
        };
        (Outcome::Rebuilt { reason }, false)
    }
}

/// BuildKit solves lazily: a step whose key was imported without its layer is reported cached as
/// long as nothing needs its result, that is, when the next step of its stage is cached too, or,
/// for a stage's last step, when every step reading the stage (COPY --from, a RUN mounting from
/// it, or the first step of a stage built FROM it) is cached. Otherwise it has to run: the
/// Dockerfile frontend makes a `RUN --mount=...,from=S` take S's result as an input of the exec
/// op like a COPY --from does (dockerfile2llb/convert_runmount.go, `dispatchRunMounts`, v0.8 as
/// vendored in moby v20.10.24, L89-L92 and L152: `st = sources[i].state`, `llb.AddMount(target,
/// st, ...)`). Consumers come later in the Dockerfile, so one pass from the end settles every
/// step.
fn settle_key_only_hits(
    steps: &mut [StepPrediction],
    lazy: &[(bool, bool, Vec<usize>)],
    stage_parents: &[Option<usize>],
) {
    for i in (0..steps.len()).rev() {
        let key_only = lazy[i].1;
        if !key_only || !steps[i].outcome.is_cached() {
            continue;
        }
        let stage = steps[i].stage;
        let next_in_stage = (i + 1..steps.len()).find(|&j| steps[j].stage == stage && lazy[j].0);
        let needed = match next_in_stage {
            Some(j) => !steps[j].outcome.is_cached(),
            None => (i + 1..steps.len()).any(|k| {
                let reads = lazy[k].2.contains(&stage);
                let first_of_child = lazy[k].0
                    && stage_parents.get(steps[k].stage).copied().flatten() == Some(stage)
                    && !(i + 1..k).any(|j| steps[j].stage == steps[k].stage && lazy[j].0);
                (reads || first_of_child) && !steps[k].outcome.is_cached()
            }),
        };
        if needed {
            steps[i].outcome = Outcome::Rebuilt {
                reason: buildkit::layer_needed(),
            };
        }
    }
}

/// The chains of the steps `build` runs although their keys are cached, where such a layer is
/// newer than the equal cached one and later builds follow it (`buildah::ran_steps_supersede`):
/// a RUN that skipped the lookup after a stage it mounts ran, and the steps after it. None when
/// every step runs anyway (`--no-cache`, which supersedes on its own, or no layers kept).
fn relaid_steps(state: &EngineState, build: &Build, steps: &[PlannedStep]) -> BTreeSet<u64> {
    let mounts = steps.iter().any(|s| !s.mounted_stages.is_empty());
    let p = &state.profile;
    let runs_all =
        general::no_cache(p, &build.options).is_some() || buildah::layers_off(p).is_some();
    if !mounts || runs_all || !buildah::ran_steps_supersede(p) {
        return BTreeSet::new();
    }
    let predicted = predict(state, build).steps;
    steps
        .iter()
        .zip(predicted)
        .filter_map(|(planned, p)| match (&planned.kind, p.outcome) {
            (PlannedKind::Step { chain, .. }, Outcome::Rebuilt { .. }) => Some(*chain),
            _ => None,
        })
        .filter(|chain| state.records.contains_key(chain))
        .collect()
}

/// Records what the engine holds after `build` ran; returns the cache it exported: inline cache
/// (which travels with the image when it is pushed), and what each `--cache-to` backend received.
pub fn apply(state: &mut EngineState, build: &Build) -> Exports {
    let profile = state.profile.clone();
    let plan = plan(&profile, build);
    if plan.rejected.is_some() {
        return Exports::default();
    }
    let failed = plan
        .steps
        .iter()
        .any(|s| matches!(s.kind, PlannedKind::Settled(Outcome::Fails { .. })));
    if failed && buildkit::failed_solve_races(&profile) {
        record_failed_solve(state, &plan);
        return Exports::default();
    }
    let relaid = relaid_steps(state, build, &plan.steps);
    // A step an imported key served without its layer leaves no result here: a later build
    // finds it only through the import again.
    let key_only = if build.options.cache_from.is_empty() {
        vec![false; plan.steps.len()]
    } else {
        predict_with_key_only(state, build).1
    };
    let mut all = Vec::new();
    for (planned, key_only) in plan.steps.into_iter().zip(key_only) {
        match planned.kind {
            PlannedKind::Step {
                parent, chain, key, ..
            } => {
                let record = Record { parent, key };
                all.push((chain, record.clone(), true));
                if key_only {
                    continue;
                }
                state.insert(chain, record);
                // Committed (every step of a successful build, the steps before a failure on the
                // classic builder and Buildah): certainly recorded now.
                state.uncertain.remove(&chain);
            }
            // The steps before a failure are committed: a failed `--no-cache` build supersedes
            // what it rebuilt as a successful one does; it exports no cache.
            PlannedKind::Settled(Outcome::Fails { .. }) => break,
            _ => {}
        }
    }
    if classic::no_cache_supersedes(&profile, &build.options)
        || buildah::no_cache_supersedes(&profile, &build.options)
    {
        state.supersede(&all, |_| true);
    }
    state.supersede(&all, |chain| relaid.contains(&chain));
    if let Some(reference) = build.options.push.as_ref().filter(|_| !failed) {
        state
            .images
            .insert(reference.clone(), plan.final_chains.clone());
    }
    if failed || profile.builder != Builder::BuildKit {
        return Exports::default();
    }
    // Min mode: the final image's steps with their layers; the steps of the stages it copies
    // from as keys alone (measured on BuildKit in Engine 20.10.24: such a stage's steps report
    // CACHED on another host when the COPY --from hits, and run when the stage is needed).
    // Max mode: every step with its layer (`bk.cache-mode`).
    // A min export to a registry or directory also carries the layers this host already holds as
    // blobs from an earlier such export (`bk.cache-mode`); inline cache only the image's own.
    let remotes = state.remotes.clone();
    let export = |mode: Mode, backend: Backend| CacheExport {
        records: all
            .iter()
            .map(|(chain, record, _)| {
                let layer = buildkit::exports_layer_in(&profile, mode, *chain, &plan.final_chains)
                    || (backend != Backend::Inline
                        && buildkit::min_reuses_blobs(&profile)
                        && remotes.contains(chain));
                (*chain, record.clone(), layer)
            })
            .collect(),
    };
    let specs: Vec<_> = build
        .options
        .cache_to
        .iter()
        .filter_map(|v| backends::parse(v, true).ok())
        .collect();
    let inline = build.options.inline_cache || specs.iter().any(|s| s.backend == Backend::Inline);
    let exports = Exports {
        inline: inline.then(|| export(Mode::Min, Backend::Inline)),
        to: specs
            .iter()
            .filter(|s| s.backend != Backend::Inline && buildkit::exports_to_backends(&profile))
            .map(|s| (s.key(), export(s.mode, s.backend)))
            .collect(),
    };
    for (_, export) in &exports.to {
        let layered = export.records.iter().filter(|(_, _, layer)| *layer);
        state.remotes.extend(layered.map(|(chain, ..)| *chain));
    }
    exports
}

/// What a failed BuildKit solve leaves (`bk.failed-solve`): every step it planned may have run
/// beside the failure, so each new one is recorded as uncertain, but for the stages the failure
/// was certainly found after (`certainly_built`), whose steps are recorded as any build's.
fn record_failed_solve(state: &mut EngineState, plan: &Plan) {
    let built = certainly_built(plan);
    for planned in &plan.steps {
        let PlannedKind::Step {
            parent, chain, key, ..
        } = &planned.kind
        else {
            continue;
        };
        let known = state.records.contains_key(chain);
        state.insert(
            *chain,
            Record {
                parent: *parent,
                key: key.clone(),
            },
        );
        if built.contains(&planned.stage) {
            state.uncertain.remove(chain);
        } else if !known {
            state.uncertain.insert(*chain);
        }
    }
}

/// The stages a failed build certainly built: each failing step found its failure in the
/// result of the stage it waited for (`PlannedStep::waited_for`), which needs that stage and
/// what it was built from or copied from; a failure in the context waits for no step. With
/// several failing steps, whichever failed first ended the solve, so only what every one of
/// them waited for counts.
fn certainly_built(plan: &Plan) -> BTreeSet<usize> {
    let mut common: Option<BTreeSet<usize>> = None;
    for failing in plan
        .steps
        .iter()
        .filter(|s| matches!(s.kind, PlannedKind::Settled(Outcome::Fails { .. })))
    {
        let mut needed = BTreeSet::new();
        let mut todo: Vec<usize> = failing.waited_for.into_iter().collect();
        while let Some(stage) = todo.pop() {
            if !needed.insert(stage) {
                continue;
            }
            todo.extend(plan.stage_parents.get(stage).copied().flatten());
            let read = plan.steps.iter().filter(|s| s.stage == stage);
            todo.extend(read.filter_map(|s| s.reads_stage));
        }
        common = Some(match common {
            None => needed,
            Some(c) => c.intersection(&needed).copied().collect(),
        });
    }
    common.unwrap_or_default()
}

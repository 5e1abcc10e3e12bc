//! What an engine holds: cache records keyed by chain id, and the inline caches it may import.
//!
//! Every map is ordered (`BTreeMap` / `BTreeSet`), so nothing that reaches a prediction depends
//! on hashing order.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::fingerprint::fingerprint;
use crate::profiles::{Builder, Profile};
use crate::step::key::StepKey;
use crate::step::Build;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Record {
    pub parent: u64,
    pub key: StepKey,
}

/// Inline cache as exported with an image: the records of its layers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheExport {
    /// Chain id, record, and whether the layer travels with it: in min mode only the final
    /// image's layers do; the steps of stages it copies from travel as keys alone.
    pub(crate) records: Vec<(u64, Record, bool)>,
}

impl CacheExport {
    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// What one build exported (`apply`): inline cache, which rides with the image and travels when
/// it is pushed, and each `--cache-to` backend's export under its key (`CacheSpec::key`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exports {
    pub inline: Option<CacheExport>,
    pub to: Vec<(String, CacheExport)>,
}

/// The cache records one engine holds, keyed the way its profile keys them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineState {
    pub profile: Profile,
    pub(crate) records: BTreeMap<u64, Record>,
    /// Chain ids built on each chain id, oldest first.
    pub(crate) children: BTreeMap<u64, Vec<u64>>,
    /// Digests of every key ever recorded (the lookup when `cascade` is switched off).
    pub(crate) loose_keys: BTreeSet<u64>,
    /// Chains only a failed BuildKit solve recorded, which may or may not have been committed
    /// (`bk.failed-solve`): a hit on one is unknown until a successful build settles it.
    pub(crate) uncertain: BTreeSet<u64>,
    /// Chains whose layer this host has sent to a registry or directory as a blob, which a later
    /// min export carries too (`bk.cache-mode`).
    pub(crate) remotes: BTreeSet<u64>,
    imports: BTreeMap<String, CacheExport>,
    /// The references this host tagged for a push, with the chains of the image each names
    /// (what the classic builder's `--cache-from` of a held image can serve:
    /// `classic.cache-from-only`).
    pub(crate) images: BTreeMap<String, Vec<u64>>,
}

impl EngineState {
    pub fn new(profile: Profile) -> EngineState {
        EngineState {
            profile,
            records: BTreeMap::new(),
            children: BTreeMap::new(),
            loose_keys: BTreeSet::new(),
            uncertain: BTreeSet::new(),
            remotes: BTreeSet::new(),
            imports: BTreeMap::new(),
            images: BTreeMap::new(),
        }
    }

    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// The chains of every record, in no promised order.
    pub fn record_chains(&self) -> impl Iterator<Item = u64> + '_ {
        self.records.keys().copied()
    }

    /// Makes what was exported under `reference` (a registry reference, or a backend's key:
    /// `CacheSpec::key`) available to builds that name it in `cache_from`.
    pub fn import(&mut self, reference: &str, export: CacheExport) {
        self.imports.insert(reference.to_string(), export);
    }

    /// Forgets every record (a prune).
    pub fn prune(&mut self) {
        self.records.clear();
        self.children.clear();
        self.loose_keys.clear();
        self.uncertain.clear();
        self.remotes.clear();
    }

    /// Forgets a record and everything built on it.
    fn remove_subtree(&mut self, chain: u64) {
        let mut stack = vec![chain];
        while let Some(c) = stack.pop() {
            self.uncertain.remove(&c);
            if self.records.remove(&c).is_some() {
                stack.extend(self.children.remove(&c).unwrap_or_default());
            }
        }
    }

    pub(crate) fn insert(&mut self, chain: u64, record: Record) {
        self.loose_keys.insert(fingerprint(&record.key));
        if !self.records.contains_key(&chain) {
            self.children.entry(record.parent).or_default().push(chain);
            self.records.insert(chain, record);
        }
    }

    /// A build made new images for the chain `built` (in build order), newer than any equal one:
    /// from now on a lookup under each of them finds only the next step of that build, and what
    /// hung off the older images is gone (`classic.newest-match`). Only the chains `made` says
    /// the build made anew supersede (a step served from cache made no image).
    pub(crate) fn supersede(&mut self, built: &[(u64, Record, bool)], made: impl Fn(u64) -> bool) {
        let next_of: BTreeMap<u64, u64> = built
            .windows(2)
            .filter(|w| w[1].1.parent == w[0].0)
            .map(|w| (w[0].0, w[1].0))
            .collect();
        for (chain, _, _) in built.iter().filter(|(c, ..)| made(*c)) {
            let keep = next_of.get(chain).copied();
            let dropped: Vec<u64> = self
                .children
                .get(chain)
                .map(|c| c.iter().copied().filter(|c| Some(*c) != keep).collect())
                .unwrap_or_default();
            if let Some(children) = self.children.get_mut(chain) {
                children.retain(|c| Some(*c) == keep);
            }
            for d in dropped {
                self.remove_subtree(d);
            }
        }
    }

    /// The keys recorded locally under `parent`, oldest first.
    pub(crate) fn local_children(&self, parent: u64) -> impl Iterator<Item = &StepKey> {
        self.children
            .get(&parent)
            .into_iter()
            .flatten()
            .filter_map(|id| self.records.get(id))
            .map(|r| &r.key)
    }
}

/// One imported record a build may use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ImportedRecord<'a> {
    pub record: &'a Record,
    pub reference: &'a str,
    pub layer: bool,
}

/// The imported records a build may use: those of the references it names in `cache_from`, kept
/// in that order (references as named, records as exported); a chain several hold is the first's,
/// with a layer if any of them has one.
#[derive(Debug, Default)]
pub(crate) struct Imported<'a> {
    by_chain: BTreeMap<u64, ImportedRecord<'a>>,
    order: Vec<u64>,
}

impl<'a> Imported<'a> {
    pub fn visible(state: &'a EngineState, build: &'a Build) -> Imported<'a> {
        let mut out = Imported::default();
        if state.profile.builder != Builder::BuildKit {
            // The classic builder uses `--cache-from` only for images already in its store (cachet
            // never pulls them); Podman's compat API accepts the option and ignores it
            // (measured on Podman 4.3).
            return out;
        }
        for reference in &build.options.cache_from {
            let key = crate::step::backends::parse(reference, false).map(|s| s.key());
            let Some(export) = key.ok().and_then(|k| state.imports.get(&k)) else {
                continue;
            };
            for (chain, record, layer) in &export.records {
                // Every source is asked at once (BuildKit's combined cache manager): a record
                // one source holds as a key alone has a layer if another source has it.
                if let Some(known) = out.by_chain.get_mut(chain) {
                    known.layer |= *layer;
                    continue;
                }
                {
                    out.order.push(*chain);
                    out.by_chain.insert(
                        *chain,
                        ImportedRecord {
                            record,
                            reference,
                            layer: *layer,
                        },
                    );
                }
            }
        }
        out
    }

    pub fn get(&self, chain: u64) -> Option<&ImportedRecord<'a>> {
        self.by_chain.get(&chain)
    }

    pub fn contains(&self, chain: u64) -> bool {
        self.by_chain.contains_key(&chain)
    }

    /// The imported keys under `parent`, in import order.
    pub fn children(&self, parent: u64) -> impl Iterator<Item = &StepKey> + '_ {
        self.order
            .iter()
            .filter_map(|c| self.by_chain.get(c))
            .filter(move |r| r.record.parent == parent)
            .map(|r| &r.record.key)
    }
}

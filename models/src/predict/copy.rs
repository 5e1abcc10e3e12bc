//! COPY and ADD: keyed on the facts of their sources (from the context, or what an earlier
//! stage's COPY steps put where `--from` reads), as the transport and the builder's rules shape
//! them.

use crate::context::{normalize_context_path, BuildContext, Entry, EntryKind};
use crate::dockerfile::{parse_mode, parse_owner, CopyArgs};
use crate::fingerprint::{content_digest, fingerprint};
use crate::predict::cx::{
    arrived_owner, join_workdir, Cx, PlacedFile, Planned, StageOutcome, StageState,
};
use crate::profiles::generation::Support;
use crate::profiles::{buildah, buildkit, classic, general, Builder, Profile};
use crate::step::key::{Component, Part, SourceFact, StepKey};
use crate::step::outcome::Outcome;

pub(crate) fn plan_copy(
    cx: &Cx<'_>,
    outcomes: &[Option<StageOutcome>],
    st: &mut StageState,
    keyword: &'static str,
    copy: &CopyArgs,
) -> Planned {
    let p = cx.profile;
    if let Some(outcome) = not_planned(p, keyword, copy) {
        return Planned::Broken(outcome);
    }
    let copy = &expanded_flags(cx, st, copy);
    if let Some(chmod) = copy.chmod.as_deref().filter(|m| parse_mode(m).is_none()) {
        return Planned::Broken(Outcome::Unsupported {
            why: format!("{keyword} --chmod={chmod}: not an octal mode, not modelled"),
        });
    }
    // A context source is a path from the context's root (`general::rooted_source`); a
    // `--from` source is a path in that stage or image.
    let sources: Vec<String> = copy
        .sources
        .iter()
        .map(|s| cx.expand(s, &st.scope))
        .map(|s| match copy.from {
            None if !s.starts_with("<<") => general::rooted_source(p, &s),
            _ => s,
        })
        .collect();
    let written = cx.expand(&copy.dest, &st.scope);
    // Where the entries land: a relative destination is under the WORKDIR, and one ending in
    // `.` (`COPY a .`) is a directory.
    let placed = match written.strip_suffix('.') {
        Some(dir) if dir.is_empty() || dir.ends_with('/') => join_workdir(&st.scope.workdir, dir),
        _ => join_workdir(&st.scope.workdir, &written),
    };
    // The destination as keyed: Buildah's as written, the others' under the WORKDIR.
    let dest = match p.builder {
        Builder::Buildah => written,
        _ => join_workdir(&st.scope.workdir, &written),
    };
    let checksummed = general::checksums_sources(p);
    let (hashed, classic_text) = classic::copy_key(p, copy, keyword, &dest, &sources, checksummed);
    let mut key = StepKey::new(general::TEXT_LITERAL.id, keyword);
    let text = classic_text.or_else(|| buildah::copy_text(p, keyword, &dest));
    key.push(text.unwrap_or_else(|| {
        let rule = classic::copy_text_rule(p).unwrap_or(general::TEXT_LITERAL.id);
        Component::text(rule, generic_text(keyword, copy, &sources, &dest))
    }));
    let reads_stage = copy
        .from
        .as_deref()
        .and_then(|f| cx.earlier_stage(st.index, f));
    let from = copy.from.as_deref().map(|f| (f, reads_stage));
    let placed = match from {
        Some((from, Some(stage))) => {
            copy_from_stage(p, outcomes, st, (from, stage), (copy, &sources), &placed)
        }
        Some((image, None)) => Ok(Some(from_image(cx, st, image, &sources, &placed))),
        None if checksummed => context_sources(cx, st, copy, hashed, &placed),
        None => Ok(None),
    };
    match placed {
        Ok(component) => {
            // What a RUN or an image made is one digest: Buildah's `--chown` / `--chmod` change
            // its stream in a way the model keys as the flags.
            let made = component.as_ref().is_some_and(general::is_made_content);
            key.extend(component);
            key.extend(made.then(|| buildah::made_stream_flags(p, copy)).flatten());
        }
        Err(outcome) => return Planned::broken_reading(outcome, reads_stage),
    }
    key.extend(buildkit::copy_context(cx.profile, || cx.context_digest()));
    key.extend(buildah::named_owner(p, copy));
    key.extend(buildah::link_text(p, copy));
    key.extend(classic::link_text(p, copy));
    key.extend(classic::checksum_text(p, copy));
    key.extend(buildah::parents_text(p, copy));
    Planned::Step {
        key,
        changes_files: true,
        reads_stage,
        mounted_stages: Vec::new(),
        bound_stages: Vec::new(),
        detached_parent: buildkit::link_parent(p, copy),
    }
}

/// The flags as the frontend keys them: `--chown` expanded (`general::chown_value`), and
/// `--chmod` where the frontend expands it (`buildkit::chmod_value`).
fn expanded_flags(cx: &Cx<'_>, st: &StageState, copy: &CopyArgs) -> CopyArgs {
    let p = cx.profile;
    let expand = |text: &str| cx.expand(text, &st.scope);
    CopyArgs {
        chown: copy
            .chown
            .as_deref()
            .map(|c| general::chown_value(p, c, expand)),
        chmod: copy
            .chmod
            .as_deref()
            .map(|m| buildkit::chmod_value(p, m, expand)),
        ..copy.clone()
    }
}

/// What settles a COPY or ADD before its key: a rule's failure, or a form the model does not key
/// (the network's, or a flag a frontend accepts that nobody has modelled).
fn not_planned(p: &Profile, keyword: &'static str, copy: &CopyArgs) -> Option<Outcome> {
    if let Some(failure) = classic::copy_heredoc_failure(p, keyword, copy) {
        return Some(failure);
    }
    let unsupported = |why: String| Some(Outcome::Unsupported { why });
    if !copy.heredocs.is_empty() && (copy.from.is_some() || keyword == "ADD") {
        return unsupported(format!(
            "{keyword} <<heredoc with --from, or ADD of one: not modelled"
        ));
    }
    if let Some(failure) = buildah::copy_parents_failure(p, copy) {
        return Some(failure);
    }
    if buildah::keeps_parents(p, copy) && copy.sources.iter().any(|s| s.contains("/./")) {
        return unsupported(format!(
            "{keyword} --parents with a /./ pivot: not modelled"
        ));
    }
    if keyword == "ADD" {
        if let Some(failure) = buildah::add_checksum_failure(p, copy) {
            return Some(failure);
        }
        if copy
            .sources
            .iter()
            .any(|s| s.contains("://") || s.starts_with("git@"))
        {
            return unsupported("ADD of a URL: what it fetches is the network's".to_string());
        }
    }
    let flags = [
        (copy.keep_git_dir, "--keep-git-dir"),
        (copy.link && p.features.copy_link != Support::Yes, "--link"),
        (
            copy.checksum.is_some() && p.features.add_checksum != Support::Yes,
            "--checksum",
        ),
        (
            copy.parents && !buildah::keeps_parents(p, copy),
            "--parents",
        ),
        (
            !copy.exclude.is_empty() && p.features.copy_exclude != Support::Yes,
            "--exclude",
        ),
    ];
    let (_, flag) = flags.iter().find(|(on, _)| *on)?;
    // Only a frontend that accepts the flag (or that nobody has measured) gets here
    // (`Features::refusal`); what it keys is not modelled on any builder.
    unsupported(format!("{keyword} {flag} is not modelled"))
}

/// The COPY text every builder but the classic one keys on (and the classic one when its own
/// key is switched off).
fn generic_text(keyword: &str, copy: &CopyArgs, sources: &[String], dest: &str) -> String {
    let clean: Vec<String> = sources
        .iter()
        .map(|s| normalize_context_path(s).unwrap_or_else(|_| ".".to_string()))
        .collect();
    format!(
        "{keyword} from={:?} chown={:?} chmod={:?} {} -> {dest}",
        copy.from,
        copy.chown,
        copy.chmod,
        clean.join(" ")
    )
}

/// COPY from the context: the sources' facts enter the key, and what lands in the stage is
/// recorded for later COPY --from steps. A missing source fails the build.
fn context_sources(
    cx: &Cx<'_>,
    st: &mut StageState,
    copy: &CopyArgs,
    sources: &[String],
    dest: &str,
) -> Result<Option<Component>, Outcome> {
    let p = cx.profile;
    let docs: Vec<(String, String)> = copy
        .heredocs
        .iter()
        .map(|h| {
            let body = match h.expand {
                true => cx.expand(&h.content, &st.scope),
                false => h.content.clone(),
            };
            (h.name.clone(), body)
        })
        .collect();
    let mut placed =
        collect_sources_placed(cx, copy, sources, &docs).map_err(|why| Outcome::Fails { why })?;
    buildkit::copy_exclude(p, &copy.exclude, &mut placed, |(fact, place)| {
        let below = match place {
            Place::Dest => "",
            Place::File(name) | Place::Below(name) => name,
        };
        [fact.path.clone(), below.to_string()]
    });
    if let Some(why) = buildkit::exclude_dangling_failure(p, &copy.exclude, || {
        placed
            .iter()
            .map(|(fact, _)| fact)
            .find(|fact| fact.kind == "symlink" && resolve_root(&cx.visible, &fact.path).is_err())
            .map(|fact| fact.path.clone())
    }) {
        return Err(Outcome::Fails { why });
    }
    buildah::copy_exclude(p, &copy.exclude, &mut placed, |(fact, _)| fact.path.clone());
    classic::copy_exclude(p, &copy.exclude, &mut placed, |(_, place)| match place {
        Place::Dest => String::new(),
        Place::File(name) | Place::Below(name) => name.clone(),
    });
    if buildah::keeps_parents(p, copy) {
        for (fact, place) in &mut placed {
            *place = Place::Below(fact.path.clone());
        }
    }
    let count = placed.len();
    for (fact, below) in &placed {
        // What lands in the stage: owned by --chown's user or root (the tar's owner on BuildKit's
        // API door from v0.11), --chmod's
        // mode if given; times not compared.
        let placed_fact = SourceFact {
            path: String::new(),
            owner: buildkit::placed_owner(
                p,
                copy.chown
                    .as_deref()
                    .and_then(parse_owner)
                    .unwrap_or_else(|| buildkit::landed_owner(p, fact.owner)),
            ),
            mode: copy.chmod.as_deref().and_then(parse_mode).or(fact.mode),
            times: None,
            // Measured (Engine 20.10.24, Podman 4.3.1): after an xattr change, a COPY --from of
            // the file misses on BuildKit and Buildah but hits on the classic builder.
            xattrs: if p.builder == Builder::Classic {
                Vec::new()
            } else {
                fact.xattrs.clone()
            },
            ..fact.clone()
        };
        st.files.insert(
            place_under(dest, below, count),
            placed_file(placed_fact, fact.kind == "dir"),
        );
    }
    if placed.is_empty() && buildah::makes_destination_dir(p) {
        // An empty directory copied: nothing is hashed, but the destination is made.
        let made = PlacedFile::opaque(fingerprint(&"a directory COPY made empty"), true);
        st.files.entry(absolute_path(dest)).or_insert(made);
    }
    Ok(Some(Component {
        rule: general::COPY_CHECKSUM.id,
        part: Part::Sources(placed.into_iter().map(|(f, _)| f).collect()),
    }))
}

/// A placed entry's facts with its owner and mode kept apart (`PlacedFile`).
fn placed_file(fact: SourceFact, is_dir: bool) -> PlacedFile {
    let (owner, mode) = (fact.owner, fact.mode);
    let rest = SourceFact {
        owner: None,
        mode: None,
        ..fact
    };
    PlacedFile {
        rest: fingerprint(&rest),
        owner,
        mode,
        is_dir,
    }
}

/// COPY --from an earlier stage: content-addressed, the key holds what the selected paths
/// contain in the source stage, not the rest of that stage. What a RUN or the base image put
/// there is known through the stage's chain (`copy.from-chain`). The entries land under `dest`.
fn copy_from_stage(
    p: &Profile,
    outcomes: &[Option<StageOutcome>],
    st: &mut StageState,
    (from, source_stage): (&str, usize),
    (copy, sources): (&CopyArgs, &[String]),
    dest: &str,
) -> Result<Option<Component>, Outcome> {
    if let Some(fails) = missing_in_stage(
        outcomes[source_stage].as_ref(),
        sources,
        &format!("COPY --from={from}"),
    ) {
        return Err(fails);
    }
    let (selected, component) = stage_content(p, outcomes, (from, source_stage), sources, copy)?;
    if selected.is_empty() {
        if let Part::Digest(digest) = component.part {
            let made = PlacedFile::opaque(digest, true);
            st.files.insert(absolute_path(dest), made);
        }
    }
    for (place, file) in &selected {
        st.files
            .insert(place_under(dest, place, selected.len()), *file);
    }
    Ok(Some(component))
}

/// The failure of a step (`reader`: `COPY --from=s0`) that reads the first of `sources` a stage
/// certainly lacks: a stage on cachet's base image whose every RUN had a known effect
/// (`run::run_effect`) holds only what its steps wrote, WORKDIR's directories and the base
/// image's (`from::BASE_DIRS`). Unknown (`None`) once an opaque RUN ran.
pub(crate) fn missing_in_stage(
    stage: Option<&StageOutcome>,
    sources: &[String],
    reader: &str,
) -> Option<Outcome> {
    let stage = stage.filter(|s| s.on_base && !s.has_run && !s.fails && !s.unknown)?;
    let missing = sources.iter().map(String::as_str).find(|source| {
        let path = absolute_path(source);
        let top = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let under = |dir: &String| path == *dir || path.starts_with(&format!("{dir}/"));
        !top.is_empty()
            && !super::from::BASE_DIRS.contains(&top)
            && !stage
                .workdirs
                .iter()
                .any(|w| under(w) || w.starts_with(&format!("{path}/")))
            && select_in_stage(stage, source).is_empty()
    })?;
    Some(Outcome::Fails {
        why: format!(
            "{reader}: `{missing}` not found (no step of the stage wrote it, and the base image \
             has no such path)"
        ),
    })
}

/// A COPY-made entry a source selects in a stage: where it lands, and its facts.
pub(crate) type Selected = (Place, PlacedFile);

/// What `sources` hold in an earlier stage, as a key component, with the COPY-made entries they
/// select (each with where it lands). Paths no COPY wrote, and every path of a stage that ran
/// RUN, are keyed through the stage's chain up to its last RUN or its FROM (`copy.from-chain`).
/// Each selected entry is as the copy streams it (`buildah::stream_entry`: `--chown` and
/// `--chmod` replace its owner and mode on Buildah).
pub(crate) fn stage_content(
    p: &Profile,
    outcomes: &[Option<StageOutcome>],
    (from, source_stage): (&str, usize),
    sources: &[String],
    copy: &CopyArgs,
) -> Result<(Vec<Selected>, Component), Outcome> {
    let source = built_stage(outcomes, (from, source_stage))?;
    let mut selected: Vec<Selected> = sources
        .iter()
        .flat_map(|s| select_in_stage(source, s))
        .collect();
    for (_, file) in &mut selected {
        buildah::stream_entry(p, copy, &mut file.owner, &mut file.mode);
    }
    let selection: Vec<(String, u64)> = selected
        .iter()
        .map(|(place, file)| (place_under("", place, 2), file.digest()))
        .collect();
    let component = if selected.is_empty() || source.has_run {
        let made = general::made_content(source.writer_chain, sources);
        let Part::Digest(made) = made.part else {
            unreachable!("made_content is a digest")
        };
        Component {
            rule: general::FROM_CHAIN.id,
            part: Part::Digest(fingerprint(&(&selection, made))),
        }
    } else {
        buildkit::stage_selection(fingerprint(&(&selection, sources)))
    };
    Ok((selected, component))
}

/// What an earlier stage left, or how a step reading it ends: skipped when the stage fails,
/// unknown when a step of it is, or when it was not built.
pub(crate) fn built_stage<'o>(
    outcomes: &'o [Option<StageOutcome>],
    (from, source_stage): (&str, usize),
) -> Result<&'o StageOutcome, Outcome> {
    match &outcomes[source_stage] {
        Some(o) if o.fails => Err(Outcome::Skipped {
            why: format!("stage `{from}` fails"),
        }),
        Some(o) if o.unknown => Err(Outcome::Unsupported {
            why: format!("COPY --from=`{from}`: that stage has a step the model cannot key"),
        }),
        Some(o) => Ok(o),
        None => Err(Outcome::Unsupported {
            why: format!("stage `{from}` was not built"),
        }),
    }
}

/// COPY --from an image: its files are constant while its name is (as FROM's base is), so the
/// key holds the image's name and the paths (`copy.from-chain`).
fn from_image(
    cx: &Cx<'_>,
    st: &mut StageState,
    image: &str,
    sources: &[String],
    dest: &str,
) -> Component {
    let image = cx.expand(image, &st.scope);
    let component = general::made_content(fingerprint(&("FROM", &image)), sources);
    if let Part::Digest(digest) = component.part {
        let made = PlacedFile::opaque(digest, true);
        st.files.insert(absolute_path(dest), made);
    }
    component
}

/// The entries a COPY put into a stage under `source`, each with where it lands.
pub(crate) fn select_in_stage(stage: &StageOutcome, source: &str) -> Vec<Selected> {
    let root = absolute_path(source);
    let prefix = format!("{}/", root.trim_end_matches('/'));
    stage
        .files
        .range(root.clone()..)
        .take_while(|(p, _)| **p == root || root == "/" || p.starts_with(&format!("{root}/")))
        .map(|(p, file)| {
            let place = if *p != root {
                Place::Below(p.strip_prefix(&prefix).unwrap_or(p).to_string())
            } else if file.is_dir {
                Place::Dest
            } else {
                Place::File(root.rsplit('/').next().unwrap_or("").to_string())
            };
            (place, *file)
        })
        .collect()
}

/// A source's facts as the transport and the builder's rules shape them.
pub(crate) fn source_fact(cx: &Cx<'_>, path: &str, entry: &Entry, copy: &CopyArgs) -> SourceFact {
    let p = cx.profile;
    let effect = cx.effect;
    let (content, link_target) = match &entry.kind {
        EntryKind::File { content } => (Some(content_digest(content)), None),
        EntryKind::Dir => (None, None),
        EntryKind::Symlink { target } => (None, Some(target.clone())),
    };
    let mut fact = SourceFact {
        path: path.to_string(),
        kind: entry.type_name(),
        content,
        // Linux keeps no mode of a symlink's own (it reads 0777, and chmod follows the link):
        // whatever the context says of it, no builder sees another (measured on BuildKit 26.1
        // through the API tar: a chmod of a link alone hits).
        mode: Some(match entry.kind {
            EntryKind::Symlink { .. } => 0o777,
            _ => entry.mode,
        }),
        owner: Some(arrived_owner(effect, entry)),
        times: general::source_times(p, entry),
        link_target,
        xattrs: entry
            .xattrs
            .iter()
            .filter(|(k, _)| effect.keeps_xattr(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    buildkit::checksum_fields(p, &mut fact);
    buildkit::xattr_filter(p, &mut fact);
    buildkit::chmod_flag(p, copy, &mut fact);
    buildah::stream_fact(p, copy, &mut fact);
    fact
}

/// The facts a COPY hashes for an entry it copies: its own, but for a symlink on the classic
/// builder (`classic.symlink-followed`), those of the entry it leads to in the context, under
/// that entry's path, or its path alone when it leads to none. `None` for a symlink loop, which
/// the classic builder leaves out of the hash (its walk skips a path it cannot hash).
fn entry_fact(cx: &Cx<'_>, path: &str, entry: &Entry, copy: &CopyArgs) -> Option<SourceFact> {
    let is_link = matches!(entry.kind, EntryKind::Symlink { .. });
    if !is_link || !classic::follows_symlinks(cx.profile) {
        return Some(source_fact(cx, path, entry, copy));
    }
    let led_to = cx.visible.follow_in_scope(path)?;
    Some(match cx.visible.get(&led_to) {
        Some(target) => source_fact(cx, &led_to, target, copy),
        None => classic::unresolved_link(path),
    })
}

/// The context paths a COPY source names: `""` for the whole context, glob matches, or itself.
fn source_roots(
    context: &BuildContext,
    source: &str,
    allow_empty: bool,
) -> Result<Vec<String>, String> {
    if source == "." || source == "./" || source == "/" {
        return Ok(vec![String::new()]);
    }
    let clean = normalize_context_path(source).map_err(|e| format!("COPY source: {e}"))?;
    if !clean.contains(['*', '?', '[']) {
        return Ok(vec![clean]);
    }
    let matched: Vec<String> = context
        .entries
        .keys()
        .filter(|p| p.split('/').count() == clean.split('/').count())
        .filter(|p| {
            clean
                .split('/')
                .zip(p.split('/'))
                .all(|(pat, seg)| crate::dockerignore::glob_segment(pat.as_bytes(), seg.as_bytes()))
        })
        .cloned()
        .collect();
    if matched.is_empty() && !allow_empty {
        return Err(format!("no source files were specified by `{source}`"));
    }
    Ok(matched)
}

/// The entry a source root names; a top-level symlink source is followed.
fn resolve_root<'c>(context: &'c BuildContext, root: &str) -> Result<&'c Entry, String> {
    let entry = context
        .get(root)
        .ok_or_else(|| format!("source `{root}` not found in the context"))?;
    let EntryKind::Symlink { target } = &entry.kind else {
        return Ok(entry);
    };
    let base = root.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let joined = if target.starts_with('/') {
        target.clone()
    } else {
        format!("{base}/{target}")
    };
    let resolved = normalize_context_path(joined.trim_start_matches('/'))
        .map_err(|e| format!("source `{root}` is a symlink: {e}"))?;
    context
        .get(&resolved)
        .ok_or_else(|| format!("source `{root}` is a dangling symlink"))
}

/// The facts of every entry a COPY source selects (or why the build fails), each with where it
/// lands: `Place::Dest` for the destination itself (a source directory, or a lone file copied to
/// a name without a trailing slash), else a relative path below it.
fn collect_sources_placed(
    cx: &Cx<'_>,
    copy: &CopyArgs,
    sources: &[String],
    docs: &[(String, String)],
) -> Result<Vec<(SourceFact, Place)>, String> {
    let context: &BuildContext = &cx.visible;
    let p = cx.profile;
    // BuildKit copies what a wildcard matched, nothing included; the classic builder fails only
    // when all the sources together match nothing, and so does Buildah.
    let allow_empty = buildkit::allows_empty_wildcard(p)
        || classic::empty_wildcard_joined(p)
        || crate::profiles::buildah::empty_wildcard_joined(p);
    let mut matched = false;
    let mut facts = Vec::new();
    for source in sources {
        if let Some(fact) = heredoc_fact(cx.profile, source, docs) {
            let name = fact.path.clone();
            facts.push((fact, Place::File(name)));
            continue;
        }
        let roots = source_roots(context, source, allow_empty)?;
        matched |= !roots.is_empty();
        for root in roots {
            if root.is_empty() {
                for (path, entry) in context.entries_under("") {
                    if let Some(fact) = entry_fact(cx, path, entry, copy) {
                        facts.push((fact, Place::Below(path.clone())));
                    }
                }
                continue;
            }
            // Every builder follows a source link all the way, in the context's scope (a link
            // to a link is the file it ends at: measured with source-link-chain on all
            // three builders); the classic builder also names the source by where it led.
            let followed = match context.get(&root).map(|e| &e.kind) {
                Some(EntryKind::Symlink { .. }) => context.follow_in_scope(&root),
                _ => None,
            };
            let entry = match &followed {
                Some(led) => context
                    .get(led)
                    .ok_or_else(|| format!("source `{root}` is a dangling symlink"))?,
                None => resolve_root(context, &root)?,
            };
            if !entry.is_dir() || buildah::hashes_dir_itself(cx.profile) {
                let place = if entry.is_dir() {
                    Place::Dest
                } else {
                    Place::File(root.rsplit('/').next().unwrap_or(&root).to_string())
                };
                let named = match &followed {
                    Some(led) if classic::follows_symlinks(p) => led.clone(),
                    _ => root.clone(),
                };
                facts.push((source_fact(cx, &named, entry, copy), place));
            }
            if entry.is_dir() {
                for (path, child) in context.entries_under(&root) {
                    let below = path
                        .strip_prefix(&format!("{root}/"))
                        .unwrap_or(path)
                        .to_string();
                    if let Some(fact) = entry_fact(cx, path, child, copy) {
                        facts.push((fact, Place::Below(below)));
                    }
                }
            }
        }
    }
    let matched = matched || !facts.is_empty();
    if !matched && !buildkit::allows_empty_wildcard(p) {
        return Err("no source files were specified".to_string());
    }
    Ok(facts)
}

/// A COPY heredoc source (`<<NAME`) as the file the engines make of it: named NAME, mode 0644,
/// owned by root, its content the body (`bk.heredoc-keyed`, `buildah.heredoc-keyed`; off: empty).
fn heredoc_fact(p: &Profile, source: &str, docs: &[(String, String)]) -> Option<SourceFact> {
    let word = source.strip_prefix("<<")?.trim_start_matches('-');
    let name = word.trim_matches(|c| c == '"' || c == '\'');
    let (_, body) = docs.iter().find(|(n, _)| n == name)?;
    let keyed = match p.builder {
        Builder::Buildah => buildah::copy_heredoc_keyed(p),
        _ => buildkit::copy_heredoc_keyed(p),
    };
    Some(SourceFact {
        path: name.to_string(),
        kind: "file",
        content: Some(content_digest(if keyed { body.as_bytes() } else { b"" })),
        mode: Some(0o644),
        owner: Some((0, 0)),
        times: None,
        link_target: None,
        xattrs: Vec::new(),
    })
}

/// Where a copied entry lands relative to the COPY destination.
#[derive(Clone, Debug)]
pub(crate) enum Place {
    /// The destination itself (a source directory's own entry).
    Dest,
    /// A source named as a file: the destination itself when it is the only source and the
    /// destination has no trailing slash, else this name below it.
    File(String),
    /// A path below the destination.
    Below(String),
}

/// A COPY source inside a stage as an absolute path without a trailing slash.
fn absolute_path(source: &str) -> String {
    let trimmed = source.trim_matches('/');
    let clean = normalize_context_path(trimmed).unwrap_or_else(|_| trimmed.to_string());
    if clean.is_empty() || clean == "." {
        "/".to_string()
    } else {
        format!("/{clean}")
    }
}

/// Where an entry lands: `dest` itself for a lone entry placed at `""`, or a lone file copied to
/// a destination without a trailing slash; else below `dest`.
fn place_under(dest: &str, place: &Place, count: usize) -> String {
    let dest_dir = dest.trim_end_matches('/');
    let itself = if dest_dir.is_empty() {
        "/".to_string()
    } else {
        dest_dir.to_string()
    };
    match place {
        Place::Dest => itself,
        Place::File(_) if count == 1 && !dest.ends_with('/') => itself,
        Place::File(name) | Place::Below(name) => format!("{dest_dir}/{name}"),
    }
}

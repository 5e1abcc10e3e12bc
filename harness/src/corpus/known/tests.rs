//! Unit tests of `known`.

use super::*;
use models::scenario::Transition;
use models::Entry;

fn stale_sync() -> Known {
    Known {
        engine: "buildkit-cli".into(),
        versions: crate::engine::versions::VersionRange::parse("20.10").unwrap(),
        mutations: vec!["chmod-dir".into(), "write-same-size".into()],
        after: Vec::new(),
        observed: "cached".into(),
        instruction: None,
        flags: Vec::new(),
        link: "https://github.com/moby/buildkit/issues/4817".into(),
        note: String::new(),
    }
}

/// `explain` with the cause a build's own mutations make (no source difference named).
fn explain_own<'a>(
    catalogue: &'a [Known],
    kind: &str,
    version: &str,
    kinds: &[Vec<String>],
    build: usize,
    observed: &str,
) -> Option<&'a Known> {
    let cause = cause(&[], kinds, build, None);
    explain(catalogue, kind, version, kinds, build, &cause, observed)
}

fn kinds(k: &[&[&str]]) -> Vec<Vec<String>> {
    k.iter()
        .map(|b| b.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn mutation_kinds_tell_directories_apart() {
    let mut context = BuildContext::new();
    context.insert("d/a", Entry::file("x")).unwrap();
    assert_eq!(
        mutation_kind(
            &Mutation::Chmod {
                path: "d".into(),
                mode: 0o700
            },
            &context
        ),
        "chmod-dir"
    );
    assert_eq!(
        mutation_kind(
            &Mutation::Chmod {
                path: "d/a".into(),
                mode: 0o600
            },
            &context
        ),
        "chmod"
    );
    assert_eq!(
        mutation_kind(
            &Mutation::WriteSameSize {
                path: "d/a".into(),
                content: "y".into()
            },
            &context
        ),
        "write-same-size"
    );
}

#[test]
fn an_entry_matches_engine_version_observation_and_every_mutation() {
    let catalogue = vec![stale_sync()];
    let v = "20.10.24+dfsg1";
    assert!(explain_own(
        &catalogue,
        "buildkit-cli",
        v,
        &kinds(&[&["chmod-dir"]]),
        1,
        "cached"
    )
    .is_some());
    assert!(explain_own(
        &catalogue,
        "buildkit-cli",
        v,
        &kinds(&[&["chmod-dir", "chmod"]]),
        1,
        "cached"
    )
    .is_some());
    assert!(
        explain_own(
            &catalogue,
            "buildkit-cli",
            v,
            &kinds(&[&["chmod"]]),
            1,
            "cached"
        )
        .is_none(),
        "a file chmod is synced: not this entry"
    );
    assert!(explain_own(
        &catalogue,
        "buildkit-cli",
        "24.0.7",
        &kinds(&[&["chmod-dir"]]),
        1,
        "cached"
    )
    .is_none());
    assert!(explain_own(
        &catalogue,
        "buildkit",
        v,
        &kinds(&[&["chmod-dir"]]),
        1,
        "cached"
    )
    .is_none());
    assert!(explain_own(
        &catalogue,
        "buildkit-cli",
        v,
        &kinds(&[&["chmod-dir"]]),
        1,
        "rebuilt"
    )
    .is_none());
    assert!(explain_own(&catalogue, "buildkit-cli", v, &kinds(&[&[]]), 1, "cached").is_none());
}

#[test]
fn an_entry_with_after_needs_the_earlier_change() {
    let v = "20.10.24+dfsg1";
    let catch_up = vec![Known {
        after: vec!["write-same-size".into()],
        mutations: vec!["touch".into()],
        observed: "rebuilt".into(),
        ..stale_sync()
    }];
    assert!(explain_own(
        &catch_up,
        "buildkit-cli",
        v,
        &kinds(&[&["write-same-size"], &["touch"]]),
        2,
        "rebuilt"
    )
    .is_some());
    assert!(
        explain_own(
            &catch_up,
            "buildkit-cli",
            v,
            &kinds(&[&["write"], &["touch"]]),
            2,
            "rebuilt"
        )
        .is_none(),
        "needs the earlier change"
    );
}

#[test]
fn an_entry_after_no_cache_holds_for_any_later_build() {
    let after_no_cache = vec![Known {
        engine: "podman".into(),
        versions: crate::engine::versions::VersionRange::parse("4.3").unwrap(),
        mutations: Vec::new(),
        after: vec!["no-cache".into()],
        observed: "rebuilt".into(),
        ..stale_sync()
    }];
    assert!(
        explain_own(
            &after_no_cache,
            "podman",
            "4.3.1",
            &kinds(&[&[], &["chmod", "no-cache"], &[]]),
            3,
            "rebuilt"
        )
        .is_some(),
        "any build after a --no-cache build"
    );
    assert!(explain_own(
        &after_no_cache,
        "podman",
        "4.3.1",
        &kinds(&[&[], &["chmod"], &[]]),
        3,
        "rebuilt"
    )
    .is_none());
}

#[test]
fn discrepancies_after_a_known_one_follow_from_it() {
    let mut context = BuildContext::new();
    context.insert("d/a", Entry::file("x")).unwrap();
    let scenario = Scenario {
        context,
        transitions: vec![
            Transition::default(),
            Transition {
                mutations: vec![Mutation::Chmod {
                    path: "d".into(),
                    mode: 0o700,
                }],
                ..Default::default()
            },
            Transition {
                mutations: vec![Mutation::Chmod {
                    path: "d/a".into(),
                    mode: 0o600,
                }],
                ..Default::default()
            },
        ],
    };
    let found = vec![
        (3, 2, "rebuilt".to_string()),
        (2, 2, "cached".to_string()),
        (1, 2, "cached".to_string()),
    ];
    let c = classify(
        &[stale_sync()],
        "buildkit-cli",
        &Default::default(),
        "20.10.24",
        &scenario,
        &BTreeMap::new(),
        found,
    );
    assert_eq!(c.unknown, vec![(1, 2, "cached".to_string())]);
    assert_eq!(c.known.len(), 2);
    assert!(
        c.known[1].3.starts_with("follows from build 2: "),
        "{:?}",
        c.known
    );
}

/// A rebuild the model predicts because `a`'s xattr differs from the cached record's.
fn xattr_rebuild() -> Outcome {
    Outcome::Rebuilt {
        reason: models::Reason {
            rule: models::profiles::general::COPY_CHECKSUM.id,
            kind: ReasonKind::SourceChanged {
                path: "a".into(),
                field: Field::Xattr {
                    name: "user.note".into(),
                },
            },
        },
    }
}

fn buildx_stale_sync() -> Known {
    Known {
        engine: "buildx".into(),
        versions: crate::engine::versions::VersionRange::parse(">=20.10, <29").unwrap(),
        mutations: vec![
            "write-same-size".into(),
            "chmod-dir".into(),
            "set-xattr".into(),
            "remove-xattr".into(),
        ],
        ..stale_sync()
    }
}

fn transition(mutations: Vec<Mutation>, no_cache: bool) -> Transition {
    let mut t = Transition {
        mutations,
        ..Default::default()
    };
    t.build.options.no_cache = no_cache;
    t
}

/// The xattr edit the docker CLI's sync misses.
fn xattr_note() -> Mutation {
    Mutation::SetXattr {
        path: "a".into(),
        name: "user.note".into(),
        value: "1".into(),
    }
}

/// A context with `a` and the Dockerfile `FROM base\nCOPY a /a\n`.
fn copy_a_context() -> BuildContext {
    let mut context = BuildContext::new();
    context.set_dockerfile_text(HIDDEN_FIRST);
    context.insert("a", Entry::file("x")).unwrap();
    context
}

/// The Dockerfile the hidden stale change starts and ends with.
const HIDDEN_FIRST: &str = "FROM base\nCOPY a /a\n";

/// The main job's case: the xattr edit the sync missed came two builds before the finding,
/// a `--no-cache` build with other text between; the finding's own build only edits the
/// Dockerfile back.
fn hidden_stale_change() -> Scenario {
    let edit = |text: &str| Mutation::Dockerfile { text: text.into() };
    Scenario {
        context: copy_a_context(),
        transitions: vec![
            transition(Vec::new(), false),
            transition(
                vec![xattr_note(), edit("FROM base\nRUN true\nCOPY a /a\n")],
                false,
            ),
            transition(vec![edit("FROM base\nRUN echo\nCOPY a /a\n")], true),
            transition(vec![edit(HIDDEN_FIRST)], false),
        ],
    }
}

/// The main job's case (`hidden_stale_change`): its cause is the xattr edit, so it is known.
#[test]
fn a_stale_change_hidden_behind_a_no_cache_rebuild_is_known_by_its_cause() {
    let hidden = hidden_stale_change();
    let predicted = BTreeMap::from([((4, 2), (xattr_rebuild(), "COPY".to_string()))]);
    let c = classify(
        &[buildx_stale_sync()],
        "buildx",
        &Default::default(),
        "28.5.2",
        &hidden,
        &predicted,
        vec![(4, 2, "cached".to_string())],
    );
    assert!(c.unknown.is_empty(), "{c:?}");
    assert_eq!(c.known.len(), 1);
    assert_eq!(c.causes, vec![(4, 2, "set-xattr".to_string())]);
    // The cause names the build that made the difference.
    let kinds = mutation_kinds_per_build(&hidden, &Default::default());
    assert_eq!(
        cause(
            &touches(&hidden),
            &kinds,
            4,
            predicted.get(&(4, 2)).map(|(o, _)| o)
        )
        .since,
        Some(2)
    );
}

/// The plain stale hit, the xattr edit in the finding's own build, has the hidden one's cause
/// label (one bucket).
#[test]
fn a_plain_stale_change_has_the_hidden_ones_cause() {
    let plain = Scenario {
        context: copy_a_context(),
        transitions: vec![
            transition(Vec::new(), false),
            transition(vec![xattr_note()], false),
        ],
    };
    let c = classify(
        &[buildx_stale_sync()],
        "buildx",
        &Default::default(),
        "28.5.2",
        &plain,
        &BTreeMap::from([((2, 2), (xattr_rebuild(), "COPY".to_string()))]),
        vec![(2, 2, "cached".to_string())],
    );
    assert_eq!(c.known.len(), 1);
    assert_eq!(c.causes, vec![(2, 2, "set-xattr".to_string())]);
}

/// Without the model's reason, the hidden stale change's own build (a Dockerfile edit) is all
/// there is: not known. This is what matching on the last build's mutations did.
#[test]
fn a_hidden_stale_change_without_the_models_reason_is_not_known() {
    let c = classify(
        &[buildx_stale_sync()],
        "buildx",
        &Default::default(),
        "28.5.2",
        &hidden_stale_change(),
        &BTreeMap::new(),
        vec![(4, 2, "cached".to_string())],
    );
    assert_eq!(c.unknown.len(), 1);
    assert_eq!(c.causes, vec![(4, 2, "dockerfile".to_string())]);
}

#[test]
fn an_entry_for_one_instruction_explains_no_other() {
    let workdir = Known {
        engine: "buildkit".into(),
        mutations: vec!["no-cache".into()],
        instruction: Some("WORKDIR".into()),
        ..stale_sync()
    };
    let mut context = BuildContext::new();
    context.set_dockerfile_text("FROM base\nWORKDIR /v\nRUN true\n");
    let mut second = Transition::default();
    second.build.options.no_cache = true;
    let scenario = Scenario {
        context,
        transitions: vec![Transition::default(), second],
    };
    let no_cache = Outcome::Rebuilt {
        reason: models::Reason {
            rule: models::profiles::general::NOCACHE_ALL.id,
            kind: ReasonKind::NoCache,
        },
    };
    let facts = BTreeMap::from([
        ((2, 2), (no_cache.clone(), "WORKDIR".to_string())),
        ((2, 3), (no_cache, "RUN".to_string())),
    ]);
    let c = classify(
        &[workdir],
        "buildkit",
        &Default::default(),
        "20.10.24",
        &scenario,
        &facts,
        vec![(2, 2, "cached".to_string()), (2, 3, "cached".to_string())],
    );
    assert_eq!(c.known.len(), 1, "{c:?}");
    assert_eq!(c.known[0].1, 2);
    // The RUN is unexplained by the WORKDIR's entry (it comes after the first known one in
    // the same build, not a later build, so nothing follows from it either).
    assert_eq!(c.unknown, vec![(2, 3, "cached".to_string())]);
}

#[test]
fn a_cause_is_only_a_change_of_the_named_field_of_that_path() {
    let touches = vec![
        Touch {
            build: 1,
            kind: "set-xattr".into(),
            paths: vec!["b".into()],
        },
        Touch {
            build: 2,
            kind: "chmod".into(),
            paths: vec!["a".into()],
        },
        Touch {
            build: 2,
            kind: "remove-xattr".into(),
            paths: vec!["d".into()],
        },
    ];
    let kinds = kinds(&[&["set-xattr"], &["chmod", "remove-xattr"], &["touch"]]);
    let at = |path: &str| Outcome::Rebuilt {
        reason: models::Reason {
            rule: models::profiles::general::COPY_CHECKSUM.id,
            kind: ReasonKind::SourceChanged {
                path: path.into(),
                field: Field::Xattr { name: "n".into() },
            },
        },
    };
    // `d/c` lies under `d`, whose xattr edit is the only one on its way.
    assert_eq!(
        cause(&touches, &kinds, 3, Some(&at("d/c"))).label(),
        "remove-xattr"
    );
    assert_eq!(
        cause(&touches, &kinds, 3, Some(&at("b"))).label(),
        "set-xattr"
    );
    // `a` had a chmod, not an xattr edit: the build's own kinds stand.
    assert_eq!(cause(&touches, &kinds, 3, Some(&at("a"))).label(), "touch");
    // A later build's mutation is no cause of an earlier finding.
    assert_eq!(
        cause(&touches, &kinds, 1, Some(&at("d/c"))).label(),
        "set-xattr"
    );
}

#[test]
fn a_labelled_dockerfile_is_a_kind_of_its_own() {
    let mut context = BuildContext::new();
    context.set_dockerfile_text("FROM base\n");
    let scenario = Scenario {
        context,
        transitions: vec![Transition::default(), Transition::default()],
    };
    let selinux = models::scenario::HostSettings {
        selinux_label: Some("system_u:object_r:container_file_t:s0".into()),
        ..Default::default()
    };
    assert_eq!(
        mutation_kinds_per_build(&scenario, &selinux),
        vec![vec!["dockerfile-xattrs".to_string()]; 2]
    );
    assert_eq!(
        mutation_kinds_per_build(&scenario, &Default::default()),
        vec![Vec::<String>::new(); 2]
    );
}

#[test]
fn an_instructions_keyword_and_flags_are_read_from_its_text() {
    assert_eq!(
        keyword_and_flags("copy --from=s0 --chown=2:2 /a /x"),
        (
            "COPY".to_string(),
            vec!["--from".to_string(), "--chown".to_string()]
        )
    );
    assert_eq!(
        keyword_and_flags("RUN echo --not-a-flag\n--x"),
        ("RUN".to_string(), Vec::<String>::new())
    );
    assert_eq!(
        keyword_and_flags("WORKDIR"),
        ("WORKDIR".to_string(), Vec::new())
    );
}

/// Podman < 5.8's owner-name leak: an entry for `COPY --from --chown` explains a miss there, and
/// the steps of the same build the engine rebuilt after it follow from it; a plain COPY's miss
/// does not match, and a later step the engine served from cache does not follow.
#[test]
fn an_entry_with_flags_explains_only_that_form_and_the_misses_after_it() {
    let leak = Known {
        engine: "podman-cli".into(),
        versions: crate::engine::versions::VersionRange::parse(">=4.3, <5.8").unwrap(),
        mutations: Vec::new(),
        observed: "rebuilt".into(),
        instruction: Some("COPY".into()),
        flags: vec!["--from".into(), "--chown".into()],
        ..stale_sync()
    };
    let mut context = BuildContext::new();
    context.set_dockerfile_text(
        "FROM base AS s0\nCOPY a /a\nFROM base\nCOPY --from=s0 --chown=2:2 /a /x\nCOPY d /d\nCOPY e /e\n",
    );
    let scenario = Scenario {
        context,
        transitions: vec![Transition::default(), Transition::default()],
    };
    let cached = Outcome::Cached {
        rule: models::profiles::buildah::COPY_DIGEST.id,
        from: None,
    };
    let facts = BTreeMap::from([
        (
            (2, 4),
            (
                cached.clone(),
                "COPY --from=s0 --chown=2:2 /a /x".to_string(),
            ),
        ),
        ((2, 5), (cached.clone(), "COPY d /d".to_string())),
        ((2, 6), (cached.clone(), "COPY e /e".to_string())),
    ]);
    let c = classify(
        &[leak.clone()],
        "podman-cli",
        &Default::default(),
        "4.3.1",
        &scenario,
        &facts,
        vec![
            (2, 4, "rebuilt".to_string()),
            (2, 5, "rebuilt".to_string()),
            (2, 6, "cached".to_string()),
        ],
    );
    assert_eq!(c.known.len(), 2, "{c:?}");
    assert_eq!(
        c.known[1].3,
        format!("follows from build 2 step 4: {}", leak.link)
    );
    assert_eq!(c.unknown, vec![(2, 6, "cached".to_string())]);
    // The same miss at a COPY without those flags is not this entry's.
    let plain = BTreeMap::from([((2, 5), (cached, "COPY d /d".to_string()))]);
    let c = classify(
        &[leak],
        "podman-cli",
        &Default::default(),
        "4.3.1",
        &scenario,
        &plain,
        vec![(2, 5, "rebuilt".to_string())],
    );
    assert!(c.known.is_empty(), "{c:?}");
}

/// found-buildkit-cli-12-64: the stale sync of a directory's mode (two builds back) serves `COPY . /app`, and the
/// step after it, which the model rebuilds only because its parent was rebuilt there, is served
/// too: it follows. A step rebuilt for a reason of its own (`--no-cache`) does not.
#[test]
fn a_hit_the_stale_sync_carries_on_in_its_build_follows_from_it() {
    let mut context = BuildContext::new();
    context.insert("d/a", Entry::file("x")).unwrap();
    context.set_dockerfile_text("FROM base\nCOPY . /app\nCOPY d /f\nRUN true\n");
    let scenario = Scenario {
        context,
        transitions: vec![
            Transition::default(),
            Transition {
                mutations: vec![Mutation::Chmod {
                    path: "d".into(),
                    mode: 0o600,
                }],
                ..Default::default()
            },
            // The finding's own build only edits the Dockerfile (the stale step is rebuilt in
            // build 2 for another reason in the run this comes from).
            Transition {
                mutations: vec![Mutation::Dockerfile {
                    text: "FROM base\nCOPY . /app\nCOPY d /f\nRUN true\n\n".into(),
                }],
                ..Default::default()
            },
        ],
    };
    let rebuilt = |kind| Outcome::Rebuilt {
        reason: models::Reason {
            rule: models::profiles::general::COPY_CHECKSUM.id,
            kind,
        },
    };
    let facts = BTreeMap::from([
        (
            (3, 2),
            (
                rebuilt(ReasonKind::SourceChanged {
                    path: "d".into(),
                    field: Field::Mode {
                        from: 0o755,
                        to: 0o600,
                    },
                }),
                "COPY . /app".to_string(),
            ),
        ),
        (
            (3, 3),
            (
                rebuilt(ReasonKind::ParentRebuilt { step: 2 }),
                "COPY d /f".to_string(),
            ),
        ),
        (
            (3, 4),
            (rebuilt(ReasonKind::NoCache), "RUN true".to_string()),
        ),
    ]);
    let c = classify(
        &[stale_sync()],
        "buildkit-cli",
        &Default::default(),
        "20.10.24",
        &scenario,
        &facts,
        vec![
            (3, 2, "cached".to_string()),
            (3, 3, "cached".to_string()),
            (3, 4, "cached".to_string()),
        ],
    );
    assert_eq!(c.known.len(), 2, "{c:?}");
    assert!(
        c.known[1].3.starts_with("follows from build 3 step 2: "),
        "{c:?}"
    );
    assert_eq!(c.unknown, vec![(3, 4, "cached".to_string())]);
}

//! The real-engine suite: every test that needs what the workspace cannot give it, one
//! libtest-mimic trial each behind `gate`: real engines (the inventory's), a file `ci/engines up`
//! provisions (host b's dockerd pid, TLS certificates, an ssh config, the registry's pid), or a
//! program (Chromium, dockerd). In CI (`common::in_ci`) what a test needs must be there; elsewhere
//! its absence reports the test as ignored, with the reason said once. The engine-free tests are
//! the `offline` suite; the regression corpus is `cases`.
//!
//! `cargo test -p cachet --test engines` runs it; `... --test engines -- leaks::` one module.

#[path = "../common/mod.rs"]
mod common;
mod gate;

mod browser;
mod clean;
mod compare;
mod endpoints;
mod evictions;
mod explain;
mod faults;
mod generations;
mod hosts;
mod leaks;
mod nemesis;
mod reports;
mod restart;
mod shrink;

use gate::{Need, Test};

/// `module::function`, needing `needs`, run in this process (`alone`: in one of its own).
macro_rules! test {
    ($module:ident :: $function:ident, [$($need:expr),* $(,)?]) => {
        test!(@ $module :: $function, [$($need),*], false)
    };
    ($module:ident :: $function:ident, [$($need:expr),* $(,)?], alone) => {
        test!(@ $module :: $function, [$($need),*], true)
    };
    (@ $module:ident :: $function:ident, [$($need:expr),*], $own:expr) => {
        Test {
            name: concat!(stringify!($module), "::", stringify!($function)),
            needs: vec![$($need),*],
            body: $module::$function,
            own_process: $own,
        }
    };
}

/// Host b, as `ci/engines up` starts it: its dockerd's pid file. (The inventory, `Need::Inventory`,
/// tells whether `ci/engines up` ran: the endpoint tests build on host b through endpoints of
/// their own, and the small-disk nemesis on a dockerd of its own.)
const HOST_B: Need = Need::File(common::DOCKERD_B_PID);

fn tests() -> Vec<Test> {
    vec![
        test!(
            browser::the_morning_pages_in_chromium,
            [Need::Program(&["chromium", "chromium-browser"])]
        ),
        test!(
            clean::clean_removes_what_a_killed_run_left_and_nothing_else,
            [Need::Engine("classic@a")]
        ),
        test!(
            compare::merge_of_two_hosts_and_diff_of_an_engine_change,
            [
                Need::Engine("classic@a"),
                Need::Engine("classic@b"),
                Need::Engine("classic-cli@a"),
                Need::Engine("buildkit-cli@a"),
            ]
        ),
        test!(
            endpoints::every_door_reaches_an_engine_over_tls_and_a_wrong_ca_is_a_clear_error,
            [Need::Inventory, Need::File(endpoints::TLS_KEY)]
        ),
        test!(
            endpoints::every_door_reaches_an_engine_over_ssh_and_an_unknown_host_is_a_clear_error,
            [Need::Inventory, Need::File(endpoints::SSH_CLIENT_CONFIG)]
        ),
        test!(
            evictions::a_miss_after_an_eviction_is_indeterminate_not_a_discrepancy,
            [Need::Engines]
        ),
        test!(
            explain::real_engines_build_what_explain_says,
            [Need::Engines]
        ),
        test!(
            faults::a_dead_second_host_costs_only_the_cross_host_scenarios,
            [Need::Engines]
        ),
        test!(
            faults::a_dead_registry_costs_only_the_cross_host_scenarios,
            [Need::Engines]
        ),
        test!(
            generations::twenty_ten_to_twenty_eight_five_step_by_step,
            [Need::Engine("buildkit@a"), Need::Engine("buildkit@sid")]
        ),
        test!(
            hosts::a_centos_like_host_b_misses_where_a_debian_like_one_hits,
            [Need::Engine("buildkit-cli@a")]
        ),
        test!(
            leaks::scenarios_leave_no_images_containers_or_build_cache_behind,
            [Need::Engines]
        ),
        test!(
            nemesis::a_stopped_daemon_costs_only_the_build_in_flight,
            [Need::Engines, HOST_B],
            alone
        ),
        test!(
            nemesis::a_full_data_root_costs_only_the_scenarios_it_failed,
            [Need::Inventory, Need::Program(&["dockerd"])],
            alone
        ),
        test!(
            nemesis::a_registry_down_for_a_while_costs_only_the_scenarios_that_use_it_meanwhile,
            [Need::Engines, Need::File(nemesis::REGISTRY_PID)],
            alone
        ),
        test!(
            reports::markdown_and_html_reports,
            [Need::Engine("classic@a")]
        ),
        test!(
            restart::a_daemon_killed_mid_run_costs_only_the_scenarios_in_flight,
            [Need::Engines, HOST_B],
            alone
        ),
        test!(
            shrink::a_mutant_discrepancy_shrinks_to_a_small_reproducer,
            [Need::Engine("buildkit@a")]
        ),
        test!(
            shrink::reproducer_moves_inline_cache_between_hosts,
            [
                Need::Engine("buildkit-cli@a"),
                Need::Engine("buildkit-cli@b")
            ]
        ),
    ]
}

fn main() {
    gate::run(tests())
}

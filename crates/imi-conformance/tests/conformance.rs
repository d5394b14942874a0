//! Runs every scenario of `imi_conformance::scenarios` against SQLite (always) and
//! PostgreSQL (a fresh database per test; required in CI, see `imi_testkit`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = imi_conformance::sqlite_store().await;
                    imi_conformance::scenarios::$name(&store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((store, _db)) = imi_conformance::postgres_store().await else { return };
                    imi_conformance::scenarios::$name(&store).await;
                }
            )*
        }
        /// The same through a transaction-pooling PgBouncer (two server connections).
        mod pgbouncer {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((store, _bouncer, _db)) = imi_conformance::pgbouncer_store().await else { return };
                    imi_conformance::scenarios::$name(&store).await;
                }
            )*
        }
    };
}

conformance!(
    registration_is_idempotent_under_concurrency,
    project_without_remote_is_keyed_by_trunk_path,
    reactivation,
    registration_keeps_a_given_id,
    prefixes_are_bounded_in_characters,
    worktree_registration_is_idempotent_and_conflicts_are_named,
    unknown_worktree_type_is_rejected_by_name,
    custom_types_work_like_builtins,
    inflight_statuses,
    has_uncommitted_follows_the_count,
    updated_at_moves_on_update,
    working_path,
    lookups_by_id_origin_and_name,
    list_worktrees_with_filters,
    search_finds_a_project_from_a_typo,
    search_matches_remote_parts_and_lists_on_empty,
    lookup_by_origin_finds_active_projects_only,
    stats,
    activities_are_logged_and_listed_newest_first,
    activity_ties_are_broken_by_id,
    retention_cleanup_deletes_only_old_activities,
    pruning_keeps_activities,
    deep_metadata_set_keeps_siblings,
    extreme_numbers_in_metadata_round_trip,
    change_token_moves_with_every_commit,
    bad_input_writes_nothing,
    migrate_twice_changes_nothing,
    snapshot_round_trip_is_exact,
    snapshot_conflicts_are_refused_unless_told,
    snapshot_with_dangling_references_is_refused,
    snapshot_types_keep_free_ids_and_renumber_taken_ones,
    names_that_become_paths_are_checked_at_every_store_door,
    metadata_limits_are_enforced_on_write,
    over_deep_stored_metadata_is_readable_and_repairable,
    retention_day_counts_are_bounded,
    failing_calls_are_worded_once,
    odd_trunk_paths_give_one_worktree_path,
    every_project_method_works,
    concurrent_registration_of_four_forms_yields_one_project,
    every_worktree_method_works,
    every_type_method_works,
    every_metadata_method_works,
    every_activity_and_retention_method_works,
    claims_acquire_renew_release,
    claims_stale_epoch_is_refused,
    claims_release_by_non_holder_needs_force,
    claims_expire_and_are_taken_over,
    claims_cover_the_name_on_every_host,
    events_record_every_change_in_commit_order,
    events_of_a_rolled_back_change_do_not_exist,
    events_are_read_by_id_type_and_project,
    events_are_kept_as_long_as_activities,
    events_of_an_import_are_one,
    hook_approvals_are_keyed_by_identity_and_command,
    api_tokens_are_hashed_named_and_revocable,
    api_tokens_expire,
    api_token_names_are_unique_under_concurrency,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_sixteen_connections_register_one_project() {
    let (first, dir) = imi_conformance::sqlite_store().await;
    let path = dir.path().join("registry.db");
    let mut stores = vec![first];
    for _ in 1..16 {
        stores.push(
            imi_store_sqlite::SqliteStore::open(&path, imi_conformance::TEST_HOST)
                .await
                .unwrap(),
        );
    }
    imi_conformance::scenarios::sixteen_connections_register_one_project(&stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sixteen_connections_register_one_project() {
    let Some((first, db)) = imi_conformance::postgres_store().await else {
        return;
    };
    let mut stores = vec![first];
    for _ in 1..16 {
        stores.push(
            imi_store_postgres::PgStore::connect(&db.url, imi_conformance::TEST_HOST)
                .await
                .unwrap(),
        );
    }
    imi_conformance::scenarios::sixteen_connections_register_one_project(&stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_events_stay_in_commit_order_under_concurrent_writers() {
    let (first, dir) = imi_conformance::sqlite_store().await;
    let path = dir.path().join("registry.db");
    let mut stores = vec![first];
    for _ in 0..8 {
        stores.push(
            imi_store_sqlite::SqliteStore::open(&path, imi_conformance::TEST_HOST)
                .await
                .unwrap(),
        );
    }
    imi_conformance::events::events_stay_in_commit_order_under_concurrent_writers(&stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_events_stay_in_commit_order_under_concurrent_writers() {
    let Some((first, db)) = imi_conformance::postgres_store().await else {
        return;
    };
    let mut stores = vec![first];
    for _ in 0..8 {
        stores.push(
            imi_store_postgres::PgStore::connect(&db.url, imi_conformance::TEST_HOST)
                .await
                .unwrap(),
        );
    }
    imi_conformance::events::events_stay_in_commit_order_under_concurrent_writers(&stores).await;
}

/// Every refused call gives the same code, message and hint on SQLite, PostgreSQL
/// and PostgreSQL through PgBouncer (each is also checked against the expected text
/// by the scenario `failing_calls_are_worded_once`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_calls_agree_across_backends() {
    use imi_conformance::failing::failing_calls;
    let (sqlite, _dir) = imi_conformance::sqlite_store().await;
    let on_sqlite = failing_calls(&sqlite).await;
    let Some((pg, _db)) = imi_conformance::postgres_store().await else {
        return;
    };
    let on_postgres = failing_calls(&pg).await;
    let mut differ = Vec::new();
    for (a, b) in on_sqlite.iter().zip(&on_postgres) {
        if a != b {
            differ.push(format!("sqlite:   {a:?}\npostgres: {b:?}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
    assert_eq!(on_sqlite.len(), on_postgres.len());
    let Some((bounced, _bouncer, _db2)) = imi_conformance::pgbouncer_store().await else {
        return;
    };
    assert_eq!(failing_calls(&bounced).await, on_postgres);
}

/// 16 connections (one store each) race for one claim, 200 rounds: one winner a round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_sixteen_connections_race_for_one_claim() {
    let (first, dir) = imi_conformance::sqlite_store().await;
    let path = dir.path().join("registry.db");
    let mut stores = vec![first];
    for _ in 1..16 {
        stores.push(
            imi_store_sqlite::SqliteStore::open(&path, imi_conformance::TEST_HOST)
                .await
                .unwrap(),
        );
    }
    let h = imi_conformance::claims::connections_race_for_one_claim(&stores, 200).await;
    println!("sqlite, 16 connections, 200 rounds: winners per round -> rounds {h:?}");
    assert_eq!(h, std::collections::BTreeMap::from([(1, 200)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sixteen_connections_race_for_one_claim() {
    let Some((first, db)) = imi_conformance::postgres_store().await else {
        return;
    };
    let mut stores = vec![first];
    for _ in 1..16 {
        stores.push(
            imi_store_postgres::PgStore::connect_with_pool_size(
                &db.url,
                imi_conformance::TEST_HOST,
                1,
            )
            .await
            .unwrap(),
        );
    }
    let h = imi_conformance::claims::connections_race_for_one_claim(&stores, 200).await;
    println!("postgres, 16 connections, 200 rounds: winners per round -> rounds {h:?}");
    assert_eq!(h, std::collections::BTreeMap::from([(1, 200)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pgbouncer_sixteen_connections_race_for_one_claim() {
    let Some((first, bouncer, db)) = imi_conformance::pgbouncer_store().await else {
        return;
    };
    let mut stores = vec![first];
    for _ in 1..16 {
        stores.push(
            imi_store_postgres::PgStore::connect_with_pool_size(
                &bouncer.url(&db.name),
                imi_conformance::TEST_HOST,
                1,
            )
            .await
            .unwrap(),
        );
    }
    let h = imi_conformance::claims::connections_race_for_one_claim(&stores, 50).await;
    println!("pgbouncer, 16 connections, 50 rounds: winners per round -> rounds {h:?}");
    assert_eq!(h, std::collections::BTreeMap::from([(1, 50)]));
}

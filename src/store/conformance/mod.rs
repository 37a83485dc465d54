//! The behaviour every [`Store`] engine must show, written once. An engine's test
//! file names a function that makes a fresh, empty store and invokes
//! [`store_conformance_tests!`](crate::store_conformance_tests), which expands to
//! one `#[tokio::test]` per case below.

use super::{
    Entity, GroupQuery, GroupUpdate, IconImage, IdempotencyClaim, NameHolder, NewApiKey, NewClaim,
    NewGroup, OnExisting, Store, StoreError,
};
use crate::domain::field::{FieldKind, NewFieldDef};
use crate::domain::group::{Builtin, GroupId, GroupRef};
use crate::domain::policy::{GroupPolicy, Limit, LimitKind, Period, PolicyPatch};
use crate::domain::slug::clean_slug;
use crate::domain::user::GroupRole;
use crate::domain::workspace::Workspace;
use std::sync::Arc;

mod workspaces;
pub use workspaces::*;
mod keys;
pub use keys::*;
mod categories;
pub use categories::*;
mod fields;
pub use fields::*;
mod groups;
pub use groups::*;
mod group_removal;
pub use group_removal::*;
mod members;
pub use members::*;
mod users;
pub use users::*;
mod dump;
pub use dump::*;
mod names;
pub use names::*;
mod idempotency;
pub use idempotency::*;
mod rekey;
pub use rekey::*;
mod events;
pub use events::*;
mod webhooks;
pub use webhooks::*;
mod sessions;
pub use sessions::*;

/// Undoes the migrations from events on (SQLite 10 and 11, PostgreSQL 6 and 7) on
/// either engine, for tests that make an older database by moving its version back.
/// On PostgreSQL, [`UNDO_PG_COUNT_SLOTS_MIGRATION`] goes first.
pub const UNDO_EVENTS_MIGRATION: &str = "DROP TABLE console_sessions; ALTER TABLE api_keys DROP COLUMN last_used_at; DROP TABLE deliveries; \
     DROP TABLE webhooks; DROP TABLE events; ALTER TABLE workspaces DROP COLUMN last_event_id;";

/// Undoes the SCIM columns (SQLite migrations 12 and 13, PostgreSQL 9 and 10) on
/// either engine; it goes first.
pub const UNDO_SCIM_COLUMNS_MIGRATION: &str = "DROP INDEX users_idp_user_name; \
     ALTER TABLE users DROP COLUMN idp_user_name; ALTER TABLE users DROP COLUMN idp_user_name_key; \
     DROP INDEX users_email; CREATE UNIQUE INDEX users_email ON users(workspace_id, email_key); \
     ALTER TABLE users DROP COLUMN external_id; \
     ALTER TABLE users DROP COLUMN active; ALTER TABLE groups DROP COLUMN external_id;";

/// Undoes PostgreSQL's migration 8 (member count slots, event heads); its event
/// indexes go with the events table.
pub const UNDO_PG_COUNT_SLOTS_MIGRATION: &str = "DROP TABLE member_counts; DROP FUNCTION groupd_assumption_failed(); \
     ALTER TABLE workspaces ADD COLUMN last_event_id BIGINT NOT NULL DEFAULT 0; DROP TABLE event_heads; \
     ALTER TABLE groups ADD FOREIGN KEY (workspace_id) REFERENCES workspaces(id) ON DELETE CASCADE;";

pub use crate::store::now_ms;

/// Expands to one test per conformance case, each on a fresh store from `$make`
/// (an async fn returning `Arc<dyn Store>`, or a guard that derefs to one); the
/// `@pairs` cases get two fresh stores.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!(@cases $make;
            bootstrap_creates_the_default_workspace_once,
            workspaces_have_unique_names_and_category_one,
            api_keys_are_found_listed_and_revoked,
            categories_count_per_workspace_and_removal_moves_groups,
            custom_fields_take_ids_and_removal_drops_values,
            groups_round_trip_every_column,
            slugs_are_unique_per_workspace,
            updates_change_only_what_they_carry,
            removing_a_group_removes_its_icon_and_values,
            icons_are_found_by_token_only,
            unknown_references_write_nothing,
            workspaces_are_isolated,
            group_ids_are_never_reused,
            concurrent_inserts_keep_slugs_unique,
            groups_list_in_pages,
            every_workspace_has_locked_builtin_groups,
            removing_several_groups_is_all_or_nothing,
            removed_groups_hand_their_members_to_the_successor,
            a_full_successor_refuses_the_removal,
            policy_patches_apply_inside_the_write,
            member_roles_come_for_a_whole_page,
            adding_members_is_all_or_nothing_under_every_rule,
            removing_members_is_all_or_nothing,
            members_list_in_user_id_order_in_pages,
            slugs_and_usernames_share_one_namespace,
            a_username_and_a_slug_raced_share_one_namespace,
            idempotency_claims_end_or_lapse,
            a_lapsed_claim_is_taken_over_once,
            workspaces_are_found_by_name_and_listed,
            users_round_trip_update_delete_and_list_in_pages,
            users_are_found_many_at_once,
            identity_provider_names_and_users_without_email,
            members_change_in_one_step_all_or_nothing,
            members_are_listed_in_pages_and_removed,
            every_write_records_its_events,
            a_failed_write_records_no_event,
            events_page_and_filter_per_workspace,
            racing_writes_number_events_without_gaps,
            old_events_are_pruned_in_batches,
            webhooks_round_trip_and_record_events,
            events_fan_out_to_subscribed_endpoints,
            leases_are_exclusive_and_attempts_move_deliveries_on,
            racing_leases_never_share_a_delivery,
            endpoints_get_events_from_their_creation_on,
            sessions_are_found_touched_ended_and_pruned,
            backups_copy_the_database_or_say_how,
        );
        $crate::store_conformance_tests!(@pairs $make;
            exports_load_into_an_empty_store,
        );
    };
    (@pairs $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make().await;
                let fresh = $make().await;
                $crate::store::conformance::$case(store.clone(), fresh.clone()).await;
            }
        )*
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make().await;
                $crate::store::conformance::$case(store.clone()).await;
            }
        )*
    };
}

/// An icon with a token made from `n` (32 hex digits, as the service makes them).
pub fn icon_image(n: u128, data: Vec<u8>) -> IconImage {
    IconImage {
        content_type: "image/png".into(),
        data,
        token: format!("{n:032x}"),
    }
}

/// A plain group to insert: category 1, no flags, no custom fields.
pub fn group(name: &str, slug: Option<&str>) -> NewGroup {
    NewGroup {
        name: name.to_string(),
        slug: slug.map(|s| clean_slug(s).expect("valid slug")),
        description: String::new(),
        category_id: 1,
        secret: false,
        unleavable: false,
        pinned: false,
        password_hash: None,
        icon: None,
        custom_fields: Vec::new(),
        policy: GroupPolicy::default(),
        external_id: None,
        now: 1_700_000_000,
    }
}

/// The workspace's groups other than the built-in ones.
async fn own_groups(store: &Arc<dyn Store>, ws: &Workspace) -> Vec<crate::domain::group::Group> {
    store
        .list_groups(ws.id, None, 1000)
        .await
        .expect("list")
        .into_iter()
        .filter(|g| g.builtin.is_none())
        .collect()
}

/// Bootstraps the store and returns its default workspace.
pub async fn default_ws(store: &Arc<dyn Store>) -> Workspace {
    store.bootstrap(1).await.expect("bootstrap");
    store
        .find_workspace("default")
        .await
        .expect("find")
        .expect("default workspace")
}

async fn short_text_field(store: &Arc<dyn Store>, ws: &Workspace, id: i64) {
    let def = NewFieldDef {
        id: Some(id),
        name: "F".into(),
        kind: FieldKind::ShortText,
        options: vec![],
    };
    store
        .create_field(ws.id, def, 1)
        .await
        .expect("create field");
}

/// A user to insert, named `username` (keyed as the domain keys it).
pub fn user(username: &str) -> crate::store::NewUser {
    use crate::domain::user::{email_key, username_key};
    let email = format!("{username}@example.org");
    crate::store::NewUser {
        full_name: username.to_string(),
        username: (username.to_string(), username_key(username)),
        email: (email.clone(), email_key(&email)),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        external_id: None,
        idp_user_name: None,
        active: true,
        now: 1,
    }
}

fn by_slug(s: &str) -> GroupRef {
    GroupRef::Slug(crate::domain::slug::slug_key(s))
}

#[cfg(test)]
mod coverage {
    /// Every operation of every store trait, as `src/store/mod.rs` declares them.
    fn store_operations() -> Vec<String> {
        let src = include_str!("../mod.rs");
        let mut ops = Vec::new();
        let mut in_trait = false;
        for line in src.lines() {
            if line.starts_with("pub trait ") && line.contains("Store: Send + Sync") {
                in_trait = true;
            } else if in_trait && line == "}" {
                in_trait = false;
            } else if in_trait {
                let t = line.trim_start();
                let rest = t
                    .strip_prefix("async fn ")
                    .or_else(|| t.strip_prefix("fn "));
                if let Some(name) = rest.and_then(|r| r.split(['(', '<']).next()) {
                    ops.push(name.to_string());
                }
            }
        }
        ops
    }

    /// The conformance cases' source, every file.
    const CASES: &[&str] = &[
        include_str!("workspaces.rs"),
        include_str!("keys.rs"),
        include_str!("categories.rs"),
        include_str!("fields.rs"),
        include_str!("groups.rs"),
        include_str!("group_removal.rs"),
        include_str!("members.rs"),
        include_str!("users.rs"),
        include_str!("names.rs"),
        include_str!("idempotency.rs"),
        include_str!("dump.rs"),
        include_str!("events.rs"),
        include_str!("webhooks.rs"),
        include_str!("sessions.rs"),
    ];

    /// A store operation that no conformance case calls fails here: add a case (in
    /// the file of its aggregate, listed in `store_conformance_tests!`).
    #[test]
    fn every_store_operation_has_a_conformance_case() {
        let ops = store_operations();
        assert!(ops.len() > 30, "the trait parser found only {ops:?}");
        let missing: Vec<&String> = ops
            .iter()
            .filter(|op| !CASES.iter().any(|src| src.contains(&format!(".{op}("))))
            .collect();
        assert!(missing.is_empty(), "no conformance case calls: {missing:?}");
    }
}

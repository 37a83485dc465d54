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
mod names;
pub use names::*;
mod idempotency;
pub use idempotency::*;
mod rekey;
pub use rekey::*;

/// Expands to one test per conformance case, each on a fresh store from `$make`
/// (an async fn returning `Arc<dyn Store>`, or a guard that derefs to one).
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
            slugs_and_usernames_share_one_namespace,
            a_username_and_a_slug_raced_share_one_namespace,
            idempotency_claims_end_or_lapse,
            a_lapsed_claim_is_taken_over_once,
        );
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

/// A user to insert, named `username` (its key is the lower-case form).
pub fn user(username: &str) -> crate::store::NewUser {
    crate::store::NewUser {
        full_name: username.to_string(),
        username: (username.to_string(), username.to_lowercase()),
        email: (
            format!("{username}@example.org"),
            format!("{}@example.org", username.to_lowercase()),
        ),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        now: 1,
    }
}

fn by_slug(s: &str) -> GroupRef {
    GroupRef::Slug(s.to_lowercase())
}

//! `/Groups`: groupd's groups as SCIM Group resources.
//!
//! `displayName` is the group's name and `members` its members (users, by
//! id). groupd's own attributes travel in its extension schema
//! ([`GROUP_EXTENSION`]): slug, description, category (by name: a name no
//! category has makes one; the default category is left out), secret,
//! unleavable and pinned. A PUT without the extension leaves them as they are
//! (identity providers do not know them), and a PUT without `members` leaves
//! the members; `"members": []` empties the group. The extension is left out
//! when all of it is at its default, so a PATCH that removes it reads back as
//! removed.
//!
//! Member changes are one step, all or none, within the group's rules (a full
//! group refuses the whole change).

use super::discovery::{GROUP_EXTENSION, GROUP_SCHEMA, field_attr, field_id};
use super::error::ScimError;
use super::listing::{ListQuery, Projection, Window};
use super::users::check_id;
use super::{
    Auth, BASE, Params, Scim, ScimBody, absent_if_not_found, bool_attr, created, meta, resource_id,
    string_attr,
};
use crate::domain::ValidationErrors;
use crate::domain::group::{Group, GroupDraft, GroupId, default_category};
use crate::domain::scim::filter::get_ci;
use crate::domain::scim::patch;
use crate::domain::user::{Membership, UserId};
use crate::service::{Caller, Service, ServiceError};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The workspace's category names, by id.
type Categories = BTreeMap<i64, String>;

async fn categories(service: &Service, caller: Caller) -> Result<Categories, ScimError> {
    Ok(service
        .list_categories(caller)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect())
}

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/Groups", get(list).post(create))
        .route("/Groups/.search", post(search))
        .route(
            "/Groups/{id}",
            get(read).put(replace).patch(patch_group).delete(remove),
        )
}

/// Whether strings of a Group attribute compare with their case.
fn case_exact(path: &str) -> bool {
    [
        "id",
        "externalId",
        "members.value",
        "members",
        "meta.version",
    ]
    .iter()
    .any(|a| a.eq_ignore_ascii_case(path))
}

/// A group as a SCIM resource; `members` when they were read.
fn to_json(g: &Group, members: Option<&[Membership]>, categories: &Categories) -> Value {
    let mut ext = json!({
        "secret": g.secret,
        "unleavable": g.unleavable,
        "pinned": g.pinned,
    });
    if let Some(slug) = &g.slug {
        ext["slug"] = json!(slug);
    }
    if !g.description.is_empty() {
        ext["description"] = json!(g.description);
    }
    if g.category_id != default_category()
        && let Some(name) = categories.get(&g.category_id)
    {
        ext["category"] = json!(name);
    }
    for (id, value) in &g.custom_fields {
        ext[field_attr(*id)] = json!(value);
    }
    let at_default = g.slug.is_none()
        && g.custom_fields.is_empty()
        && g.description.is_empty()
        && g.category_id == default_category()
        && !(g.secret || g.unleavable || g.pinned);
    let mut r = json!({
        "schemas": [GROUP_SCHEMA, GROUP_EXTENSION],
        "id": g.id.0.to_string(),
        "displayName": g.name,
    });
    if !at_default {
        r[GROUP_EXTENSION] = ext;
    }
    if let Some(x) = &g.external_id {
        r["externalId"] = json!(x);
    }
    // The version is of the group's attributes: the same whether or not
    // the members were read.
    r["meta"] = meta(
        "Group",
        format!("{BASE}/Groups/{}", g.id.0),
        g.created_at,
        g.updated_at,
        &r,
    );
    if let Some(members) = members {
        r["members"] = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.user.id.0.to_string(),
                    "$ref": format!("{BASE}/Users/{}", m.user.id.0),
                })
            })
            .collect();
    }
    r
}

/// groupd's own attributes, as the extension states them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Extension {
    slug: Option<String>,
    description: String,
    /// `None`: the default category.
    category: Option<String>,
    secret: bool,
    unleavable: bool,
    pinned: bool,
    /// Custom field values by field id (`custom_field_<id>`).
    fields: BTreeMap<i64, String>,
}

/// What a Group resource (a body, or a patched resource) states.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    name: Option<String>,
    external_id: Option<String>,
    /// `None`: the extension was not sent.
    ext: Option<Extension>,
    /// `None`: `members` was not sent.
    members: Option<BTreeSet<UserId>>,
}

fn wanted(body: &Value) -> Result<Wanted, ScimError> {
    let mut errors = ValidationErrors::new();
    let name = string_attr(get_ci(body, "displayName"), "displayName", &mut errors);
    let external_id = string_attr(get_ci(body, "externalId"), "externalId", &mut errors);
    let ext = match get_ci(body, GROUP_EXTENSION) {
        None | Some(Value::Null) => None,
        Some(e @ Value::Object(_)) => Some(Extension {
            slug: string_attr(get_ci(e, "slug"), "slug", &mut errors),
            description: string_attr(get_ci(e, "description"), "description", &mut errors)
                .unwrap_or_default(),
            category: string_attr(get_ci(e, "category"), "category", &mut errors)
                .filter(|c| !c.trim().is_empty()),
            secret: bool_attr(get_ci(e, "secret"), "secret", &mut errors).unwrap_or(false),
            unleavable: bool_attr(get_ci(e, "unleavable"), "unleavable", &mut errors)
                .unwrap_or(false),
            pinned: bool_attr(get_ci(e, "pinned"), "pinned", &mut errors).unwrap_or(false),
            fields: custom_fields(e, &mut errors),
        }),
        Some(_) => {
            errors.push(GROUP_EXTENSION, "must be an object");
            None
        }
    };
    let members = match get_ci(body, "members") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut ids = BTreeSet::new();
            for (i, m) in items.iter().enumerate() {
                let value = get_ci(m, "value");
                let id = value
                    .and_then(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .or_else(|| v.as_i64().map(|n| n.to_string()))
                    })
                    .and_then(|s| resource_id(s.trim()));
                match id {
                    Some(id) => {
                        ids.insert(UserId(id));
                    }
                    None => errors.push(
                        format!("members[{i}]"),
                        "value must be the id of a user of this workspace",
                    ),
                }
            }
            Some(ids)
        }
        Some(_) => {
            errors.push("members", "must be a list");
            None
        }
    };
    errors
        .into_result(Wanted {
            name,
            external_id,
            ext,
            members,
        })
        .map_err(|e| ServiceError::Invalid(e).into())
}

/// The custom field values an extension object states (numbers are read as
/// their text; an empty or null value is none).
fn custom_fields(ext: &Value, errors: &mut ValidationErrors) -> BTreeMap<i64, String> {
    let mut out = BTreeMap::new();
    for (k, v) in ext.as_object().into_iter().flatten() {
        let Some(id) = field_id(k) else { continue };
        match v {
            Value::Null => {}
            Value::String(s) if s.trim().is_empty() => {}
            Value::String(s) => {
                out.insert(id, s.clone());
            }
            Value::Number(n) => {
                out.insert(id, n.to_string());
            }
            _ => errors.push(k.as_str(), "must be a string"),
        }
    }
    out
}

/// The changes that make `current` into `wanted`, as a draft with only what
/// differs (`None` when nothing does), and the category's new name when it
/// changes (`Some(None)`: the default category).
fn draft_between(
    current: &Wanted,
    wanted: &Wanted,
) -> (Option<GroupDraft>, Option<Option<String>>) {
    let mut d = GroupDraft::default();
    let mut any = false;
    let mut category = None;
    if wanted.name != current.name {
        d.name = Some(wanted.name.clone().unwrap_or_default());
        any = true;
    }
    if wanted.external_id != current.external_id {
        d.external_id = Some(wanted.external_id.clone().unwrap_or_default());
        any = true;
    }
    if let (Some(w), Some(c)) = (&wanted.ext, &current.ext) {
        if w.slug != c.slug {
            d.slug = Some(w.slug.clone().unwrap_or_default());
            any = true;
        }
        if w.description != c.description {
            d.description = Some(w.description.clone());
            any = true;
        }
        if w.category != c.category {
            category = Some(w.category.clone());
        }
        for (want, have, slot) in [
            (w.secret, c.secret, &mut d.secret),
            (w.unleavable, c.unleavable, &mut d.unleavable),
            (w.pinned, c.pinned, &mut d.pinned),
        ] {
            if want != have {
                *slot = Some(want);
                any = true;
            }
        }
        for id in w
            .fields
            .keys()
            .chain(c.fields.keys())
            .collect::<BTreeSet<_>>()
        {
            let want = w.fields.get(id);
            if want != c.fields.get(id) {
                d.custom_fields
                    .push((*id, want.cloned().unwrap_or_default()));
                any = true;
            }
        }
    }
    (any.then_some(d), category)
}

/// A category name as groupd takes it, its problem under the extension's name.
fn check_category(name: &str) -> Result<(), ScimError> {
    crate::domain::category::validate_name(name).map_err(|e| {
        let mut errors = ValidationErrors::new();
        for f in e.fields() {
            errors.push(format!("{GROUP_EXTENSION}:category"), f.message.clone());
        }
        ScimError::from(ServiceError::Invalid(errors))
    })?;
    Ok(())
}

/// The id of the category named (`None`: the default one).
async fn category_id(
    service: &Service,
    caller: Caller,
    name: Option<&str>,
) -> Result<i64, ScimError> {
    Ok(match name {
        None => default_category(),
        Some(n) => service.category_named(caller, n).await?,
    })
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("no group '{id}' in this workspace"))
}

async fn find(service: &Service, caller: Caller, id: &str) -> Result<Group, ScimError> {
    let Some(n) = resource_id(id) else {
        return Err(not_found(id));
    };
    match service.get_group(caller, &n.to_string()).await {
        Ok(g) => Ok(g),
        Err(ServiceError::GroupNotFound) => Err(not_found(id)),
        Err(e) => Err(e.into()),
    }
}

/// Every member of a group, read a page at a time.
async fn members_of(
    service: &Service,
    caller: Caller,
    g: GroupId,
) -> Result<Vec<Membership>, ScimError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = service
            .list_members(caller, &g.0.to_string(), after, 1000)
            .await?;
        let full = page.len() == 1000;
        after = page.last().map(|m| m.user.id);
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// The group as a resource, with its members when the projection keeps them.
async fn resource(
    service: &Service,
    caller: Caller,
    g: &Group,
    projection: &Projection,
    categories: &Categories,
) -> Result<Value, ScimError> {
    let members = if projection.wants("members") {
        Some(members_of(service, caller, g.id).await?)
    } else {
        None
    };
    Ok(projection.apply(to_json(g, members.as_deref(), categories)))
}

/// The group as it now is, as the answer to a write.
async fn answer(
    service: &Service,
    caller: Caller,
    id: GroupId,
    status: StatusCode,
    projection: &Projection,
) -> Result<Response, ScimError> {
    let g = find(service, caller, &id.0.to_string()).await?;
    let categories = categories(service, caller).await?;
    let r = resource(service, caller, &g, projection, &categories).await?;
    if status == StatusCode::CREATED {
        return Ok(created(&format!("{BASE}/Groups/{}", g.id.0), r));
    }
    Ok(Scim(status, r).into_response())
}

async fn create(
    Auth(caller): Auth,
    State(service): State<Service>,
    query: Params,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let projection = ListQuery::parse(&query.0)?.projection;
    let w = wanted(&body)?;
    let members: Vec<UserId> = w.members.clone().unwrap_or_default().into_iter().collect();
    // Checked first, so that a group (or a category) is made only when its
    // members can join.
    service.check_member_change(caller, &[], &members).await?;
    if let Some(name) = w.ext.as_ref().and_then(|e| e.category.as_deref()) {
        check_category(name)?;
    }
    let mut draft = GroupDraft {
        name: w.name.clone(),
        external_id: w.external_id.clone(),
        ..GroupDraft::default()
    };
    if let Some(e) = &w.ext {
        draft.slug = e.slug.clone();
        draft.description = Some(e.description.clone());
        draft.secret = Some(e.secret);
        draft.unleavable = Some(e.unleavable);
        draft.pinned = Some(e.pinned);
        draft.custom_fields = e.fields.iter().map(|(id, v)| (*id, v.clone())).collect();
    }
    // The whole group is checked before its category is made (a category
    // made for a group that is then refused would stay behind).
    service
        .check_group_draft(caller, None, draft.clone())
        .await?;
    if let Some(e) = &w.ext {
        draft.category_id = Some(category_id(&service, caller, e.category.as_deref()).await?);
    }
    let g = service.create_group(caller, draft).await?;
    if !members.is_empty()
        && let Err(e) = service
            .change_members(caller, g.id, Vec::new(), members)
            .await
    {
        // All or none: a group whose members cannot all join is not kept.
        if let Err(undo) = service.delete_group(caller, &g.id.0.to_string()).await {
            tracing::error!(group = g.id.0, error = %undo, "a SCIM group whose members could not join was not removed");
        }
        return Err(e.into());
    }
    answer(&service, caller, g.id, StatusCode::CREATED, &projection).await
}

async fn read(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
    query: Params,
) -> Result<Response, ScimError> {
    let projection = ListQuery::parse(&query.0)?.projection;
    let g = find(&service, caller, &id).await?;
    answer(&service, caller, g.id, StatusCode::OK, &projection).await
}

/// Makes the group what `wanted` states: members first (one step, all or
/// none), then its attributes; answers the group as it then is.
async fn apply(
    service: &Service,
    caller: Caller,
    g: &Group,
    current: &Wanted,
    w: &Wanted,
    projection: &Projection,
) -> Result<Response, ScimError> {
    if w.name.is_none() {
        return Err(
            ServiceError::Invalid(ValidationErrors::single("displayName", "is required")).into(),
        );
    }
    // A group whose own attributes are all at their defaults is shown
    // without the extension.
    let mut current = current.clone();
    current.ext.get_or_insert_with(Extension::default);
    let (mut draft, category) = draft_between(&current, w);
    // Everything is checked before anything is written: a refused attribute
    // leaves the members as they were, and a refused member change (the
    // last check, in its own transaction) leaves the attributes.
    if let Some(Some(name)) = &category {
        check_category(name)?;
    }
    if let Some(d) = &draft {
        service
            .check_group_draft(caller, Some(g), d.clone())
            .await?;
    }
    if let (Some(want), Some(have)) = (&w.members, &current.members)
        && want != have
    {
        let remove = have.difference(want).copied().collect();
        let add = want.difference(have).copied().collect();
        service.change_members(caller, g.id, remove, add).await?;
    }
    if let Some(name) = category {
        let id = category_id(service, caller, name.as_deref()).await?;
        draft.get_or_insert_with(GroupDraft::default).category_id = Some(id);
    }
    if let Some(draft) = draft {
        service
            .update_group(caller, &g.id.0.to_string(), draft)
            .await?;
    }
    answer(service, caller, g.id, StatusCode::OK, projection).await
}

async fn replace(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
    query: Params,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let projection = ListQuery::parse(&query.0)?.projection;
    check_id(&body, &id)?;
    let w = wanted(&body)?;
    let g = find(&service, caller, &id).await?;
    let members = match &w.members {
        Some(_) => Some(members_of(&service, caller, g.id).await?),
        None => None,
    };
    let current = wanted(&to_json(
        &g,
        members.as_deref(),
        &categories(&service, caller).await?,
    ))?;
    apply(&service, caller, &g, &current, &w, &projection).await
}

/// Whether a top-level Group attribute is multi-valued.
fn multi(name: &str) -> bool {
    name.eq_ignore_ascii_case("members")
}

async fn patch_group(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
    query: Params,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let projection = ListQuery::parse(&query.0)?.projection;
    let ops = patch::parse(&body)?;
    let g = find(&service, caller, &id).await?;
    let members = members_of(&service, caller, g.id).await?;
    let before = to_json(&g, Some(&members), &categories(&service, caller).await?);
    let mut after = before.clone();
    patch::apply(&mut after, &ops, &multi)?;
    check_id(&after, &id)?;
    let current = wanted(&before)?;
    let mut w = wanted(&after)?;
    // What the patch left without a value is cleared: removing `members`
    // empties the group, removing the extension puts it all at its defaults.
    w.members.get_or_insert_with(BTreeSet::new);
    w.ext.get_or_insert_with(Extension::default);
    apply(&service, caller, &g, &current, &w, &projection).await
}

async fn remove(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let g = find(&service, caller, &id).await?;
    service.delete_group(caller, &g.id.0.to_string()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list(
    Auth(caller): Auth,
    State(service): State<Service>,
    query: Params,
) -> Result<Response, ScimError> {
    let q = ListQuery::parse(&query.0)?;
    listing(&service, caller, q).await
}

async fn search(
    Auth(caller): Auth,
    State(service): State<Service>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let q = ListQuery::from_search(&body)?;
    listing(&service, caller, q).await
}

/// A page of the groups the filter matches, in id order. `id eq` is looked
/// up; any other filter reads the workspace's groups a page at a time (with
/// their members only when the filter names them), keeping only the page asked
/// for; members are read for the groups on the page when the answer has them.
async fn listing(service: &Service, caller: Caller, q: ListQuery) -> Result<Response, ScimError> {
    let mut window = Window::new(&q);
    let categories = categories(service, caller).await?;
    let filter_members = q.filter.as_ref().is_some_and(|f| f.mentions("members"));
    let mut kept: Vec<Group> = Vec::new();
    // Tests `g` (with its members when the filter names them) and keeps it
    // when it is on the page.
    let mut consider = async |g: Group, window: &mut Window| -> Result<(), ScimError> {
        let members = match filter_members {
            true => Some(members_of(service, caller, g.id).await?),
            false => None,
        };
        let r = to_json(&g, members.as_deref(), &categories);
        if q.filter.as_ref().is_none_or(|f| f.matches(&r, &case_exact)) && window.admit() {
            kept.push(g);
        }
        Ok(())
    };
    if let Some(value) = q.filter.as_ref().and_then(|f| f.required_equality("id")) {
        if let Some(g) = absent_if_not_found(find(service, caller, &value).await)? {
            consider(g, &mut window).await?;
        }
    } else {
        let mut after: Option<GroupId> = None;
        loop {
            let page = service.list_groups(caller, after, 1000).await?;
            let full = page.len() == 1000;
            after = page.last().map(|g| g.id);
            for g in page {
                consider(g, &mut window).await?;
            }
            if !full {
                break;
            }
        }
    }
    let mut resources = Vec::with_capacity(kept.len());
    for g in &kept {
        resources.push(resource(service, caller, g, &q.projection, &categories).await?);
    }
    Ok(Scim(StatusCode::OK, window.into_response(resources)).into_response())
}

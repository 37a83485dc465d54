//! `/Users`: groupd's users as SCIM User resources.
//!
//! `userName` is the name the identity provider knows the user by: their
//! username, or, when that is not a valid groupd username (an email address, a
//! UUID), the provider's own name, kept beside a username groupd derived from
//! it. `displayName` is the full name; `emails` holds the one address groupd
//! keeps; `active: false` deactivates. Users made here have no password.

use super::discovery::USER_SCHEMA;
use super::error::ScimError;
use super::listing::{ListQuery, Projection, Window};
use super::{
    Auth, BASE, Params, Scim, ScimBody, absent_if_not_found, bool_attr, created, meta, resource_id,
    string_attr,
};
use crate::domain::scim::filter::{as_bool, get_ci};
use crate::domain::scim::patch;
use crate::domain::user::{IdpUserDraft, User, UserId};
use crate::service::Service;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/Users", get(list).post(create))
        .route("/Users/.search", post(search))
        .route(
            "/Users/{id}",
            get(read).put(replace).patch(patch_user).delete(remove),
        )
}

/// Whether strings of a User attribute compare with their case.
pub fn case_exact(path: &str) -> bool {
    ["id", "externalId", "meta.version"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(path))
}

/// A user as a SCIM resource.
pub fn to_json(u: &User) -> Value {
    let mut r = json!({
        "schemas": [USER_SCHEMA],
        "id": u.id.0.to_string(),
        "userName": u.idp_name(),
        "active": u.active,
    });
    if !u.full_name.is_empty() {
        r["displayName"] = json!(u.full_name);
    }
    if !u.email.is_empty() {
        r["emails"] = json!([{"value": u.email}]);
    }
    if let Some(x) = &u.external_id {
        r["externalId"] = json!(x);
    }
    r["meta"] = meta(
        "User",
        format!("{BASE}/Users/{}", u.id.0),
        u.created_at,
        u.updated_at,
        &r,
    );
    r
}

/// What a User resource (a POST or PUT body, or a patched resource) states.
/// Of `emails`, one address is kept: the primary, else a work one, else the first. Attributes groupd
/// does not keep (`name`, `title`, other schemas) are passed over.
pub fn draft_of(body: &Value) -> IdpUserDraft {
    let mut errors = crate::domain::ValidationErrors::new();
    let user_name = string_attr(get_ci(body, "userName"), "userName", &mut errors);
    let mut full_name = string_attr(get_ci(body, "displayName"), "displayName", &mut errors);
    if full_name.is_none() {
        // Okta and Entra send the name's parts; a formatted name or
        // given + family stands in for a missing displayName.
        let name = get_ci(body, "name");
        let part = |n: &str| name.and_then(|v| get_ci(v, n)).and_then(Value::as_str);
        full_name = part("formatted").map(str::to_string).or_else(|| {
            let joined = [part("givenName"), part("familyName")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
    }
    let email = match get_ci(body, "emails") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            // The primary address; else a work one (what a PATCH of
            // `emails[type eq "work"].value` makes); else the first.
            let primary = list
                .iter()
                .find(|e| get_ci(e, "primary").and_then(as_bool) == Some(true))
                .or_else(|| {
                    list.iter().find(|e| {
                        get_ci(e, "type")
                            .and_then(Value::as_str)
                            .is_some_and(|t| t.eq_ignore_ascii_case("work"))
                    })
                })
                .or_else(|| list.first());
            match primary.map(|e| get_ci(e, "value")) {
                None | Some(None | Some(Value::Null)) => None,
                Some(Some(Value::String(s))) => Some(s.clone()),
                Some(Some(_)) => {
                    errors.push("emails", "an address's value must be a string");
                    None
                }
            }
        }
        Some(_) => {
            errors.push("emails", "must be a list of addresses");
            None
        }
    };
    let active = bool_attr(get_ci(body, "active"), "active", &mut errors);
    IdpUserDraft {
        user_name,
        full_name,
        email,
        external_id: string_attr(get_ci(body, "externalId"), "externalId", &mut errors),
        active,
        errors,
    }
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("no user '{id}' in this workspace"))
}

async fn find(
    service: &Service,
    caller: crate::service::Caller,
    id: &str,
) -> Result<User, ScimError> {
    let Some(n) = resource_id(id) else {
        return Err(not_found(id));
    };
    match service.get_user(caller, &n.to_string()).await {
        Ok(u) => Ok(u),
        Err(crate::service::ServiceError::AccountNotFound) => Err(not_found(id)),
        Err(e) => Err(e.into()),
    }
}

fn answer(status: StatusCode, u: &User, projection: &Projection) -> Response {
    let body = projection.apply(to_json(u));
    if status == StatusCode::CREATED {
        return created(&format!("{BASE}/Users/{}", u.id.0), body);
    }
    Scim(status, body).into_response()
}

async fn create(
    Auth(caller): Auth,
    State(service): State<Service>,
    query: Params,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let projection = ListQuery::parse(&query.0)?.projection;
    let made = service.create_idp_user(caller, draft_of(&body)).await?;
    Ok(answer(StatusCode::CREATED, &made, &projection))
}

async fn read(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
    query: Params,
) -> Result<Response, ScimError> {
    let projection = ListQuery::parse(&query.0)?.projection;
    let u = find(&service, caller, &id).await?;
    Ok(answer(StatusCode::OK, &u, &projection))
}

async fn replace(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
    query: Params,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let projection = ListQuery::parse(&query.0)?.projection;
    let current = find(&service, caller, &id).await?;
    check_id(&body, &id)?;
    let u = service
        .replace_idp_user(caller, current.id, None, draft_of(&body))
        .await?;
    Ok(answer(StatusCode::OK, &u, &projection))
}

/// An `id` in a body must be the resource's own (it is read-only).
pub fn check_id(body: &Value, id: &str) -> Result<(), ScimError> {
    match get_ci(body, "id") {
        Some(Value::String(s)) if s != id => Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("mutability"),
            format!("id is read-only: the body says '{s}', the address '{id}'"),
        )),
        _ => Ok(()),
    }
}

/// Whether a top-level User attribute is multi-valued (RFC 7643 section 4.1.2:
/// groupd keeps only `emails`, but a PATCH of the others, as Entra's default
/// mappings send, must still be read).
fn multi(name: &str) -> bool {
    [
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ]
    .iter()
    .any(|m| m.eq_ignore_ascii_case(name))
}

/// The resource a PATCH is applied to: the user, with its one address marked
/// as the primary work address, so that paths naming it that way
/// (`emails[type eq "work"].value`, as Entra and Okta send) reach it.
fn patch_base(u: &User) -> Value {
    let mut r = to_json(u);
    if let Some(Value::Array(emails)) = r.get_mut("emails") {
        for e in emails {
            e["type"] = json!("work");
            e["primary"] = json!(true);
        }
    }
    r
}

async fn patch_user(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
    query: Params,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let projection = ListQuery::parse(&query.0)?.projection;
    let ops = patch::parse(&body)?;
    let current = find(&service, caller, &id).await?;
    let base = patch_base(&current);
    let mut resource = base.clone();
    patch::apply(&mut resource, &ops, &multi)?;
    // groupd keeps one address (the primary, see `draft_of`): a primary one
    // the PATCH added goes before the one it had, which is marked primary.
    if let (Some(Value::Array(after)), Some(Value::Array(before))) =
        (resource.get_mut("emails"), base.get("emails"))
        && after.len() > 1
    {
        let is_new_primary =
            |e: &Value| !before.contains(e) && get_ci(e, "primary").and_then(as_bool) == Some(true);
        let (mut first, rest): (Vec<Value>, Vec<Value>) =
            after.drain(..).partition(|e| is_new_primary(e));
        first.extend(rest);
        *after = first;
    }
    check_id(&resource, &id)?;
    let u = service
        .replace_idp_user(
            caller,
            current.id,
            Some(draft_of(&base)),
            draft_of(&resource),
        )
        .await?;
    Ok(answer(StatusCode::OK, &u, &projection))
}

async fn remove(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let u = find(&service, caller, &id).await?;
    service.delete_user(caller, &u.id.0.to_string()).await?;
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

/// A page of the users the filter matches, in id order. `userName eq` and `id
/// eq` are looked up; any other filter reads the workspace's users a page at a
/// time, keeping only the page asked for.
async fn listing(
    service: &Service,
    caller: crate::service::Caller,
    q: ListQuery,
) -> Result<Response, ScimError> {
    let mut window = Window::new(&q);
    let mut page = Vec::new();
    let mut consider = |u: &User| {
        let r = to_json(u);
        if q.filter.as_ref().is_none_or(|f| f.matches(&r, &case_exact)) && window.admit() {
            page.push(q.projection.apply(r));
        }
    };
    let direct = q.filter.as_ref().and_then(|f| {
        f.required_equality("userName")
            .map(|v| (true, v))
            .or_else(|| f.required_equality("id").map(|v| (false, v)))
    });
    if let Some((by_name, value)) = direct {
        let found = if by_name {
            service.find_user_by_idp_name(caller, &value).await?
        } else {
            absent_if_not_found(find(service, caller, &value).await)?
        };
        if let Some(u) = found {
            consider(&u);
        }
    } else {
        let mut after: Option<UserId> = None;
        loop {
            let users = service.list_users(caller, after, 1000).await?;
            users.iter().for_each(&mut consider);
            match users.last() {
                Some(last) if users.len() == 1000 => after = Some(last.id),
                _ => break,
            }
        }
    }
    Ok(Scim(StatusCode::OK, window.into_response(page)).into_response())
}

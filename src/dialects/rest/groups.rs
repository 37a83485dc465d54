//! `/api/v1/groups`: create, list, get, update, delete.

use super::dto::{GroupIn, GroupOut, GroupPage};
use super::error::{ApiError, ErrorBody};
use super::{Auth, JsonBody, QueryParams, decode_cursor, encode_cursor};
use crate::domain::group::{Group, GroupId};
use crate::domain::listing::{GroupCursor, GroupQuery};
use crate::service::Service;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Reads the list filters shared by the group lists.
pub fn group_query(q: &QueryParams) -> Result<GroupQuery, ApiError> {
    let after = match q.str("cursor") {
        None => None,
        Some(c) => match decode_cursor(c, "g")?.as_slice() {
            [p, id] => Some(GroupCursor {
                pinned: *p != 0,
                id: GroupId(*id),
            }),
            _ => {
                return Err(ApiError::field(
                    "cursor",
                    "is not a cursor this list gave out",
                ));
            }
        },
    };
    let secret = match q.str("visibility") {
        None => None,
        Some("public") => Some(false),
        Some("secret") => Some(true),
        Some(_) => return Err(ApiError::field("visibility", "must be public or secret")),
    };
    Ok(GroupQuery {
        category: q.int("category_id")?,
        name_prefix: q
            .str("name_prefix")
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty()),
        secret,
        pinned: None,
        visible_to: None,
        after,
        limit: q.limit()?,
    })
}

pub fn next_group_cursor(items: &[Group], limit: u32) -> Option<String> {
    if items.len() < limit as usize {
        return None;
    }
    items
        .last()
        .map(|g| encode_cursor(&format!("g:{}:{}", u8::from(g.pinned), g.id.0)))
}

#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = GroupIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 201, description = "Created", body = GroupOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 409, description = "Slug taken (slug_already_exists)", body = ErrorBody),
        (status = 422, description = "Invalid fields (invalid_value)", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn create(
    State(service): State<Service>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<GroupIn>,
) -> Result<Response, ApiError> {
    let group = service.create_group(caller, body.into_draft()).await?;
    let id = group.id;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/groups/{}", id.0))],
        Json(GroupOut::from(&group)),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "groups",
    params(
        ("category_id" = Option<i64>, Query, description = "Only this category"),
        ("name_prefix" = Option<String>, Query, description = "Names starting with this (any case)"),
        ("visibility" = Option<String>, Query, description = "public or secret"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50"),
    ),
    responses(
        (status = 200, description = "All groups, pinned first", body = GroupPage),
        (status = 400, description = "Unreadable query", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 422, description = "Bad filter", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn list(
    State(service): State<Service>,
    Auth(caller): Auth,
    q: QueryParams,
) -> Result<Json<GroupPage>, ApiError> {
    let query = group_query(&q)?;
    let limit = query.limit;
    let groups = service.query_groups(caller, query).await?;
    Ok(Json(GroupPage {
        next_cursor: next_group_cursor(&groups, limit),
        items: groups.iter().map(GroupOut::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/groups/{group}", tag = "groups",
    params(("group" = String, Path, description = "Group id or slug")),
    responses(
        (status = 200, description = "The group", body = GroupOut),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "group_not_found", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn get_one(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(group): Path<String>,
) -> Result<Json<GroupOut>, ApiError> {
    let g = service.get_group(caller, &group).await?;
    Ok(Json(GroupOut::from(&g)))
}

#[utoipa::path(patch, path = "/api/v1/groups/{group}", tag = "groups", request_body = GroupIn,
    params(("group" = String, Path, description = "Group id or slug")),
    responses(
        (status = 200, description = "The changed group", body = GroupOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "group_not_found", body = ErrorBody),
        (status = 409, description = "slug_already_exists", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn update(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(group): Path<String>,
    JsonBody(body): JsonBody<GroupIn>,
) -> Result<Json<GroupOut>, ApiError> {
    let id = service
        .update_group(caller, &group, body.into_draft())
        .await?;
    let g = service.get_group(caller, &id.0.to_string()).await?;
    Ok(Json(GroupOut::from(&g)))
}

#[utoipa::path(delete, path = "/api/v1/groups/{group}", tag = "groups",
    params(
        ("group" = String, Path, description = "Group id or slug"),
        ("successor" = Option<i64>, Query, description = "Group that takes over the members"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 403, description = "Built-in group (permission_denied)", body = ErrorBody),
        (status = 404, description = "group_not_found", body = ErrorBody),
        (status = 409, description = "The successor is full (group_full)", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn remove(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(group): Path<String>,
    q: QueryParams,
) -> Result<StatusCode, ApiError> {
    let successor = q.int("successor")?.map(GroupId);
    let g = service.get_group(caller, &group).await?;
    service.delete_groups(caller, &[g.id], successor).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/groups/{group}/members`: administrative membership changes (no
//! password or unleavable rule; `limit_user` always holds).

use super::dto::{
    BulkIn, BulkOut, MemberAdded, MemberIn, MemberOut, MemberPage, UserOut, parse_role,
};
use super::error::{ApiError, ErrorBody};
use super::{Auth, JsonBody, QueryParams, next_user_cursor, user_cursor};
use crate::service::Service;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[utoipa::path(get, path = "/api/v1/groups/{group}/members", tag = "members",
    params(
        ("group" = String, Path, description = "Group id or slug"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50"),
    ),
    responses(
        (status = 200, description = "Members in user id order", body = MemberPage),
        (status = 400, description = "Unreadable query", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "group_not_found", body = ErrorBody),
        (status = 422, description = "Bad cursor or limit", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn list(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(group): Path<String>,
    q: QueryParams,
) -> Result<Json<MemberPage>, ApiError> {
    let after = user_cursor(&q)?;
    let limit = q.limit()?;
    let members = service.list_members(caller, &group, after, limit).await?;
    let next_cursor = next_user_cursor(members.len(), limit, members.last().map(|m| m.user.id));
    Ok(Json(MemberPage {
        items: members.iter().map(MemberOut::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(post, path = "/api/v1/groups/{group}/members", tag = "members", request_body = MemberIn,
    params(("group" = String, Path, description = "Group id or slug"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 201, description = "Added", body = MemberAdded),
        (status = 200, description = "Already a member (role changed if sent)", body = MemberAdded),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "group_not_found or account_not_found", body = ErrorBody),
        (status = 409, description = "group_full", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn add(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(group): Path<String>,
    JsonBody(body): JsonBody<MemberIn>,
) -> Result<Response, ApiError> {
    let role = parse_role(body.role.as_deref())?;
    let (g, u, added) = service.add_member(caller, &group, &body.user, role).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(MemberAdded {
            group_id: g.0,
            user: UserOut::from(&u),
            added,
        }),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/api/v1/groups/{group}/members/{user}", tag = "members",
    params(("group" = String, Path, description = "Group id or slug"),
        ("user" = String, Path, description = "User id, username or email")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "group_not_found, account_not_found or not_a_member", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn remove(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path((group, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.remove_member(caller, &group, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/groups/{group}/members/bulk-add", tag = "members", request_body = BulkIn,
    params(("group" = String, Path, description = "Group id or slug"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 200, description = "All added (existing members kept)", body = BulkOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "group_not_found", body = ErrorBody),
        (status = 409, description = "group_full: nothing was added", body = ErrorBody),
        (status = 422, description = "Unknown users or too many: nothing was added", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn bulk_add(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(group): Path<String>,
    JsonBody(body): JsonBody<BulkIn>,
) -> Result<Json<BulkOut>, ApiError> {
    let role = parse_role(body.role.as_deref())?;
    let changed = service
        .bulk_add_members(caller, &group, &body.users, role)
        .await?;
    Ok(Json(BulkOut { changed }))
}

#[utoipa::path(post, path = "/api/v1/groups/{group}/members/bulk-remove", tag = "members", request_body = BulkIn,
    params(("group" = String, Path, description = "Group id or slug"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 200, description = "All removed (non-members skipped)", body = BulkOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "group_not_found", body = ErrorBody),
        (status = 422, description = "Unknown users or too many: nothing was removed", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn bulk_remove(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(group): Path<String>,
    JsonBody(body): JsonBody<BulkIn>,
) -> Result<Json<BulkOut>, ApiError> {
    if body.role.is_some() {
        return Err(ApiError::field("role", "has no meaning when removing"));
    }
    let changed = service
        .bulk_remove_members(caller, &group, &body.users)
        .await?;
    Ok(Json(BulkOut { changed }))
}

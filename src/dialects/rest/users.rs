//! `/api/v1/users`: users, and `/api/v1/users/{user}/groups`: what a user sees,
//! joins and leaves, acting on their behalf (every group rule applies).

use super::dto::{GroupOut, JoinIn, UserGroupOut, UserGroupPage, UserIn, UserOut, UserPage};
use super::error::{ApiError, ErrorBody};
use super::groups::{group_query, next_group_cursor};
use super::{Auth, JsonBody, QueryParams, next_user_cursor, user_cursor};
use crate::service::Service;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 201, description = "Created", body = UserOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 409, description = "username_exists or email_exists", body = ErrorBody),
        (status = 422, description = "invalid_value or invalid_email_address", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn create(
    State(service): State<Service>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<UserIn>,
) -> Result<Response, ApiError> {
    let u = service.create_user(caller, body.into_draft()).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/users/{}", u.id.0))],
        Json(UserOut::from(&u)),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50"),
    ),
    responses(
        (status = 200, description = "Users in id order", body = UserPage),
        (status = 400, description = "Unreadable query", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 422, description = "Bad cursor or limit", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn list(
    State(service): State<Service>,
    Auth(caller): Auth,
    q: QueryParams,
) -> Result<Json<UserPage>, ApiError> {
    let after = user_cursor(&q)?;
    let limit = q.limit()?;
    let users = service.list_users(caller, after, limit).await?;
    let next_cursor = next_user_cursor(users.len(), limit, users.last().map(|u| u.id));
    Ok(Json(UserPage {
        items: users.iter().map(UserOut::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/users/{user}", tag = "users",
    params(("user" = String, Path, description = "User id, username or email")),
    responses(
        (status = 200, description = "The user", body = UserOut),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "account_not_found", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn get_one(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(user): Path<String>,
) -> Result<Json<UserOut>, ApiError> {
    Ok(Json(UserOut::from(&service.get_user(caller, &user).await?)))
}

#[utoipa::path(patch, path = "/api/v1/users/{user}", tag = "users", request_body = UserIn,
    params(("user" = String, Path, description = "User id, username or email")),
    responses(
        (status = 200, description = "The changed user", body = UserOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "account_not_found", body = ErrorBody),
        (status = 409, description = "username_exists or email_exists", body = ErrorBody),
        (status = 422, description = "invalid_value or invalid_email_address", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn update(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<UserIn>,
) -> Result<Json<UserOut>, ApiError> {
    let u = service
        .update_user(caller, &user, body.into_draft())
        .await?;
    Ok(Json(UserOut::from(&u)))
}

#[utoipa::path(delete, path = "/api/v1/users/{user}", tag = "users",
    params(("user" = String, Path, description = "User id, username or email")),
    responses(
        (status = 204, description = "Removed, with every membership"),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "account_not_found", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn remove(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_user(caller, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/users/{user}/groups", tag = "user groups",
    params(
        ("user" = String, Path, description = "User id, username or email"),
        ("category_id" = Option<i64>, Query, description = "Only this category"),
        ("name_prefix" = Option<String>, Query, description = "Names starting with this (any case)"),
        ("visibility" = Option<String>, Query, description = "public or secret"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50"),
    ),
    responses(
        (status = 200, description = "Groups the user may see, pinned first", body = UserGroupPage),
        (status = 400, description = "Unreadable query", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "account_not_found", body = ErrorBody),
        (status = 422, description = "Bad filter", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn groups(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(user): Path<String>,
    q: QueryParams,
) -> Result<Json<UserGroupPage>, ApiError> {
    let query = group_query(&q)?;
    let limit = query.limit;
    let (_, rows) = service.user_groups(caller, &user, query).await?;
    let groups: Vec<_> = rows.iter().map(|(g, _)| g.clone()).collect();
    Ok(Json(UserGroupPage {
        next_cursor: next_group_cursor(&groups, limit),
        items: rows
            .iter()
            .map(|(g, role)| UserGroupOut {
                group: GroupOut::from(g),
                role: role.map(|r| r.as_str().to_string()),
            })
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/users/{user}/groups", tag = "user groups", request_body = JoinIn,
    params(("user" = String, Path, description = "User id, username or email"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 201, description = "Joined", body = UserGroupOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 403, description = "invalid_group_password", body = ErrorBody),
        (status = 404, description = "account_not_found, or group_not_found (also for secret groups)", body = ErrorBody),
        (status = 409, description = "already_a_member or group_full", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn join(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<JoinIn>,
) -> Result<Response, ApiError> {
    let (g, _) = service
        .join_group(caller, &user, &body.group, body.password)
        .await?;
    let g = service.get_group(caller, &g.id.0.to_string()).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserGroupOut {
            group: GroupOut::from(&g),
            role: Some("member".to_string()),
        }),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/api/v1/users/{user}/groups/{group}", tag = "user groups",
    params(("user" = String, Path, description = "User id, username or email"),
        ("group" = String, Path, description = "Group id or slug")),
    responses(
        (status = 204, description = "Left"),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 403, description = "group_unleavable", body = ErrorBody),
        (status = 404, description = "account_not_found, group_not_found or not_a_member", body = ErrorBody),
    ), security(("bearer" = [])))]
pub async fn leave(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path((user, group)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service.leave_group(caller, &user, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}

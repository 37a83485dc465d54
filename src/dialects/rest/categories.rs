//! `/api/v1/categories` and `/api/v1/fields`: group categories and custom field
//! definitions.

use super::dto::{CategoryIn, CategoryList, CategoryOut, FieldIn, FieldList, FieldOut};
use super::error::{ApiError, ErrorBody};
use super::{Auth, JsonBody, path_id};
use crate::domain::field::{FieldKind, NewFieldDef};
use crate::service::Service;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[utoipa::path(get, path = "/api/v1/categories", tag = "categories",
    responses((status = 200, description = "Every category", body = CategoryList),
        (status = 401, description = "Bad key", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(service): State<Service>,
    Auth(caller): Auth,
) -> Result<Json<CategoryList>, ApiError> {
    let items = service.list_categories(caller).await?;
    Ok(Json(CategoryList {
        items: items.iter().map(CategoryOut::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/categories", tag = "categories", request_body = CategoryIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses((status = 201, description = "Created", body = CategoryOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(service): State<Service>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<CategoryIn>,
) -> Result<Response, ApiError> {
    let c = service.create_category(caller, &body.name).await?;
    Ok((StatusCode::CREATED, Json(CategoryOut::from(&c))).into_response())
}

#[utoipa::path(patch, path = "/api/v1/categories/{id}", tag = "categories", request_body = CategoryIn,
    params(("id" = i64, Path, description = "Category id")),
    responses((status = 200, description = "Renamed", body = CategoryOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "category_not_found", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rename(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CategoryIn>,
) -> Result<Json<CategoryOut>, ApiError> {
    let id = path_id(&id, "category_not_found", "Category")?;
    let c = service.rename_category(caller, id, &body.name).await?;
    Ok(Json(CategoryOut::from(&c)))
}

#[utoipa::path(delete, path = "/api/v1/categories/{id}", tag = "categories",
    params(("id" = i64, Path, description = "Category id; its groups move to category 1")),
    responses((status = 204, description = "Removed"),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 403, description = "Category 1 always exists (permission_denied)", body = ErrorBody),
        (status = 404, description = "category_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "category_not_found", "Category")?;
    service.delete_category(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/fields", tag = "custom fields",
    responses((status = 200, description = "Every group custom field", body = FieldList),
        (status = 401, description = "Bad key", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_fields(
    State(service): State<Service>,
    Auth(caller): Auth,
) -> Result<Json<FieldList>, ApiError> {
    let items = service.list_fields(caller).await?;
    Ok(Json(FieldList {
        items: items.iter().map(FieldOut::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/fields", tag = "custom fields", request_body = FieldIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses((status = 201, description = "Defined", body = FieldOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 409, description = "The id is taken (already_exists)", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_field(
    State(service): State<Service>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<FieldIn>,
) -> Result<Response, ApiError> {
    let kind: FieldKind = body
        .kind
        .parse()
        .map_err(|m: String| ApiError::field("type", m))?;
    let f = service
        .create_field(
            caller,
            NewFieldDef {
                id: body.id,
                name: body.name,
                kind,
                options: body.options,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(FieldOut::from(&f))).into_response())
}

#[utoipa::path(delete, path = "/api/v1/fields/{id}", tag = "custom fields",
    params(("id" = i64, Path, description = "Field id; every value groups had for it goes too")),
    responses((status = 204, description = "Removed"),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "field_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_field(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "field_not_found", "Field")?;
    service.delete_field(caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use super::{categories, dto, error, groups, members, users};
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "groupd REST API", description = "Groups, members, users, categories and custom fields. Authenticate with `Authorization: Bearer <key>` (`groupd key create`)."),
    paths(
        groups::create, groups::list, groups::get_one, groups::update, groups::remove,
        members::list, members::add, members::remove, members::bulk_add, members::bulk_remove,
        users::create, users::list, users::get_one, users::update, users::remove,
        users::groups, users::join, users::leave,
        categories::list, categories::create, categories::rename, categories::remove,
        categories::list_fields, categories::create_field, categories::remove_field,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, error::FieldProblem,
        dto::GroupOut, dto::GroupIn, dto::GroupPage, dto::LimitJson,
        dto::UserOut, dto::UserIn, dto::UserPage,
        dto::MemberOut, dto::MemberPage, dto::MemberIn, dto::MemberAdded, dto::BulkIn, dto::BulkOut,
        dto::UserGroupOut, dto::UserGroupPage, dto::JoinIn,
        dto::CategoryOut, dto::CategoryIn, dto::CategoryList,
        dto::FieldOut, dto::FieldIn, dto::FieldList,
    )),
    modifiers(&Bearer),
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use super::{categories, dto, error, events, groups, members, users};
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
    info(title = "groupd REST API", description = "Groups, members, users, categories, custom fields, the audit log (events) and signed webhooks. Authenticate with `Authorization: Bearer <key>` (`groupd key create`)."),
    paths(
        groups::create, groups::list, groups::get_one, groups::update, groups::remove,
        members::list, members::add, members::remove, members::bulk_add, members::bulk_remove,
        users::create, users::list, users::get_one, users::update, users::remove,
        users::groups, users::join, users::leave,
        categories::list, categories::create, categories::rename, categories::remove,
        categories::list_fields, categories::create_field, categories::remove_field,
        events::list_events,
        events::create_webhook, events::list_webhooks, events::get_webhook,
        events::update_webhook, events::delete_webhook, events::rotate_secret,
        events::list_deliveries, events::retry_delivery,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, error::FieldProblem,
        dto::GroupOut, dto::GroupIn, dto::GroupPage, dto::LimitJson,
        dto::UserOut, dto::UserIn, dto::UserPage,
        dto::MemberOut, dto::MemberPage, dto::MemberIn, dto::MemberAdded, dto::BulkIn, dto::BulkOut,
        dto::UserGroupOut, dto::UserGroupPage, dto::JoinIn,
        dto::CategoryOut, dto::CategoryIn, dto::CategoryList,
        dto::FieldOut, dto::FieldIn, dto::FieldList,
        events::EventOut, events::EventPage, events::ChangeOut,
        events::WebhookOut, events::WebhookIn, events::WebhookList, events::WebhookWithSecret,
        events::DeliveryOut, events::DeliveryPage, events::AttemptOut,
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

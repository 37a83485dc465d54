//! The admin console at `/console/`: server-rendered pages (maud templates, checked
//! at compile time), one stylesheet and one small script, all embedded in the
//! binary. It is a door like the dialects: it decodes forms, calls the service,
//! and renders the answer; it never reads or writes the store itself.
//!
//! - `auth`: sign-in (an API key, or an Admin-group admin's username and
//!   password), sign-out, and the extractors every page uses: [`Console`] (the
//!   session from the cookie, else a redirect to sign-in) and [`Posted`] (a form
//!   body whose CSRF token matches the session's).
//! - `page`: the layout, navigation, notices and field errors.
//! - one module per area: `overview`, `groups` (with members and a group's
//!   events), `users`, `schema` (categories and custom fields), `keys`,
//!   `webhooks` (endpoints, deliveries and the audit log).
//!
//! Every form works without JavaScript; `assets/console.js` only adds copy
//! buttons, icon previews and confirmations.

mod assets;
mod auth;
mod groups;
mod keys;
mod overview;
mod page;
mod schema;
mod users;
mod webhooks;

use crate::service::Service;
use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

pub use auth::{COOKIE, Console, Path, Posted, Query};

/// The largest console form body: room for an icon file of the default size cap.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A refusal of the server's (rate limit, deadline) as a console page.
pub fn refused(status: axum::http::StatusCode, message: &str) -> axum::response::Response {
    page::failure(None, status, message)
}

pub fn routes() -> Router<Service> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(overview::show))
        .route("/console/assets/{file}", get(assets::serve))
        .route("/console/sign-in", get(auth::form).post(auth::sign_in))
        .route("/console/sign-out", post(auth::sign_out))
        .route("/console/groups", get(groups::list).post(groups::create))
        .route("/console/groups/new", get(groups::new_form))
        .route(
            "/console/groups/{id}",
            get(groups::show).post(groups::update),
        )
        .route("/console/groups/{id}/edit", get(groups::edit_form))
        .route("/console/groups/{id}/delete", post(groups::delete))
        .route("/console/groups/{id}/members", post(groups::add_members))
        .route(
            "/console/groups/{id}/members/{user}",
            post(groups::change_member),
        )
        .route("/console/users", get(users::list).post(users::create))
        .route("/console/users/new", get(users::new_form))
        .route("/console/users/{id}", get(users::show).post(users::update))
        .route("/console/users/{id}/delete", post(users::delete))
        .route("/console/schema", get(schema::show))
        .route("/console/categories", post(schema::create_category))
        .route("/console/categories/{id}", post(schema::change_category))
        .route("/console/fields", post(schema::create_field))
        .route("/console/fields/{id}/delete", post(schema::delete_field))
        .route("/console/keys", get(keys::list).post(keys::create))
        .route("/console/keys/{prefix}/revoke", post(keys::revoke))
        .route(
            "/console/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/console/webhooks/new", get(webhooks::new_form))
        .route(
            "/console/webhooks/{id}",
            get(webhooks::show).post(webhooks::update),
        )
        .route("/console/webhooks/{id}/delete", post(webhooks::delete))
        .route(
            "/console/webhooks/{id}/rotate-secret",
            post(webhooks::rotate),
        )
        .route(
            "/console/webhooks/{id}/deliveries/{delivery}/retry",
            post(webhooks::retry),
        )
        .route("/console/events", get(webhooks::events))
        .route(
            "/console/{*rest}",
            get(page::not_found).post(page::not_found),
        )
}

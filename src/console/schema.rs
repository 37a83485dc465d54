//! Categories and custom fields: define, rename, delete. Each field shows its
//! Identifier exactly as clients send it (`custom_field_10`).

use super::page::{self, Kind, Problems, Section};
use super::{Console, Posted};
use super::{Path, Query};
use crate::domain::ValidationErrors;
use crate::domain::field::{FieldKind, NewFieldDef};
use crate::service::console::ConsoleUser;
use crate::service::{Service, ServiceError};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    done: Option<String>,
}

/// Which form a refusal belongs to, so its errors appear there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    None,
    NewCategory,
    Category(i64),
    NewField,
}

async fn schema_page(
    service: &Service,
    user: &ConsoleUser,
    done: Option<&str>,
    form: Form,
    problems: &Problems,
    posted: Option<&Posted>,
) -> Response {
    let (categories, fields) = match (
        service.list_categories(user.caller).await,
        service.list_fields(user.caller).await,
    ) {
        (Ok(c), Ok(f)) => (c, f),
        (Err(e), _) | (_, Err(e)) => return page::service_failure(user, &e),
    };
    let none = Problems::none();
    let at = |f: Form| if form == f { problems } else { &none };
    let text = |name: &str| posted.map(|p| p.text(name)).unwrap_or_default();
    let kinds: Vec<(String, String)> = FieldKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), k.as_str().replace('_', " ")))
        .collect();
    let markup = html! {
        h1 { "Categories & custom fields" }
        (page::done_notice(done))
        h2 { "Categories" }
        p.hint { "Clients send a category as " code { "group_category_id" } " (Grupo) or " code { "category_id" } " (REST)." }
        div.table-wrap {
            table {
                thead { tr { th { "Id" } th { "Name" } th { "Rename" } th { "Delete" } } }
                tbody {
                    @for c in &categories {
                        tr {
                            td { (c.id) }
                            td { (c.name) }
                            td {
                                form.inline method="post" action={"/console/categories/" (c.id)} {
                                    (page::csrf(user))
                                    input type="hidden" name="action" value="rename";
                                    label.skip for={"cat-" (c.id)} { "New name for " (c.name) }
                                    input type="text" id={"cat-" (c.id)} name="name" value=(c.name)
                                        aria-invalid=[at(Form::Category(c.id)).field("name").map(|_| "true")];
                                    " " button.secondary type="submit" { "Rename" }
                                    @if let Some(e) = at(Form::Category(c.id)).field("name") { p.error { (e) } }
                                }
                            }
                            td {
                                @if c.id != crate::domain::category::DEFAULT_CATEGORY_ID {
                                    form.inline method="post" action={"/console/categories/" (c.id)}
                                        data-confirm={"Delete the category " (c.name) "? Its groups move to Uncategorized."} {
                                        (page::csrf(user))
                                        input type="hidden" name="action" value="delete";
                                        button.danger type="submit" aria-label={"Delete " (c.name)} { "Delete" }
                                    }
                                } @else { span.muted { "always exists" } }
                            }
                        }
                    }
                }
            }
        }
        form.card method="post" action="/console/categories" novalidate {
            (page::csrf(user))
            (at(Form::NewCategory).summary(&["name"]))
            (page::input("name", "New category", Kind::Text,
                &if form == Form::NewCategory { text("name") } else { String::new() }, at(Form::NewCategory), None))
            div.actions { button type="submit" { "Add the category" } }
        }
        h2 { "Custom fields" }
        p.hint { "Clients set a field's value with the name in the Identifier column." }
        @if fields.is_empty() {
            p { "No custom fields yet." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "Identifier" } th { "Name" } th { "Type" } th { "Options" } th { "Delete" } } }
                    tbody {
                        @for f in &fields {
                            tr {
                                td { code.identifier { "custom_field_" (f.id) } }
                                td { (f.name) }
                                td { (f.kind.as_str()) }
                                td { (f.options.join(", ")) }
                                td {
                                    form.inline method="post" action={"/console/fields/" (f.id) "/delete"}
                                        data-confirm={"Delete the field " (f.name) " and every group's value of it?"} {
                                        (page::csrf(user))
                                        button.danger type="submit" aria-label={"Delete " (f.name)} { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        form.card method="post" action="/console/fields" novalidate {
            (page::csrf(user))
            h3 { "New custom field" }
            (at(Form::NewField).summary(&["name", "kind", "options", "id"]))
            (page::input("name", "Name", Kind::Text, &if form == Form::NewField { text("name") } else { String::new() }, at(Form::NewField), None))
            (page::select("kind", "Type", &kinds, &if form == Form::NewField { text("kind") } else { "short_text".into() }, at(Form::NewField)))
            (page::textarea("options", "Dropdown options (one per line)", &if form == Form::NewField { text("options") } else { String::new() }, at(Form::NewField)))
            (page::input("id", "Identifier (optional: the next free number)", Kind::Number,
                &if form == Form::NewField { text("id") } else { String::new() }, at(Form::NewField), None))
            div.actions { button type="submit" { "Add the field" } }
        }
    };
    let failed = form != Form::None;
    if failed {
        page::invalid(user, Section::Schema, "Categories & fields", markup)
    } else {
        page::ok(user, Section::Schema, "Categories & fields", markup)
    }
}

/// `GET /console/schema`.
pub async fn show(
    State(service): State<Service>,
    Console(user): Console,
    Query(q): Query<ShowQuery>,
) -> Response {
    schema_page(
        &service,
        &user,
        q.done.as_deref(),
        Form::None,
        &Problems::none(),
        None,
    )
    .await
}

async fn refused(
    service: &Service,
    user: &ConsoleUser,
    form: Form,
    e: ServiceError,
    posted: &Posted,
) -> Response {
    match Problems::of(&e) {
        Some(problems) => schema_page(service, user, None, form, &problems, Some(posted)).await,
        None => page::service_failure(user, &e),
    }
}

/// `POST /console/categories`.
pub async fn create_category(
    State(service): State<Service>,
    Console(user): Console,
    form: Posted,
) -> Response {
    match service
        .create_category(user.caller, &form.text("name"))
        .await
    {
        Ok(_) => Redirect::to("/console/schema?done=category-created").into_response(),
        Err(e) => refused(&service, &user, Form::NewCategory, e, &form).await,
    }
}

/// `POST /console/categories/{id}`: `action=rename` with `name`, or `action=delete`.
pub async fn change_category(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    form: Posted,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return page::service_failure(&user, &ServiceError::CategoryNotFound(0));
    };
    match form.get("action") {
        Some("delete") => match service.delete_category(user.caller, id).await {
            Ok(_) => Redirect::to("/console/schema?done=category-deleted").into_response(),
            Err(e) => page::service_failure(&user, &e),
        },
        _ => match service
            .rename_category(user.caller, id, &form.text("name"))
            .await
        {
            Ok(_) => Redirect::to("/console/schema?done=category-renamed").into_response(),
            Err(e @ ServiceError::CategoryNotFound(_)) => page::service_failure(&user, &e),
            Err(e) => refused(&service, &user, Form::Category(id), e, &form).await,
        },
    }
}

/// `POST /console/fields`.
pub async fn create_field(
    State(service): State<Service>,
    Console(user): Console,
    form: Posted,
) -> Response {
    let mut errors = ValidationErrors::new();
    let kind = match form.text("kind").parse::<FieldKind>() {
        Ok(k) => k,
        Err(m) => {
            errors.push("kind", m);
            FieldKind::ShortText
        }
    };
    let id = match form.text("id").trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push("id", "must be a whole number");
                None
            }
        },
    };
    if !errors.is_empty() {
        return refused(
            &service,
            &user,
            Form::NewField,
            ServiceError::Invalid(errors),
            &form,
        )
        .await;
    }
    let options = form
        .text("options")
        .lines()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    let def = NewFieldDef {
        id,
        name: form.text("name"),
        kind,
        options,
    };
    match service.create_field(user.caller, def).await {
        Ok(_) => Redirect::to("/console/schema?done=field-created").into_response(),
        Err(e) => refused(&service, &user, Form::NewField, e, &form).await,
    }
}

/// `POST /console/fields/{id}/delete`.
pub async fn delete_field(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return page::service_failure(&user, &ServiceError::FieldNotFound(0));
    };
    match service.delete_field(user.caller, id).await {
        Ok(()) => Redirect::to("/console/schema?done=field-deleted").into_response(),
        Err(e) => page::service_failure(&user, &e),
    }
}

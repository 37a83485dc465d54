//! Users: the list (paged by id), create, edit, remove, and the groups each
//! belongs to.

use super::page::{self, Kind, OrPage, Problems, Section};
use super::{Console, Posted};
use super::{Path, Query};
use crate::domain::group::Group;
use crate::domain::listing::{GroupCursor, GroupQuery};
use crate::domain::user::{GroupRole, User, UserDraft, UserId};
use crate::service::console::ConsoleUser;
use crate::service::{Service, ServiceError};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

const PAGE: u32 = 50;
/// The most groups read to find a user's own (pages of 1,000 visible groups).
const MEMBERSHIP_SCAN_PAGES: usize = 20;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    after: Option<i64>,
    done: Option<String>,
}

/// `GET /console/users`.
pub async fn list(
    State(service): State<Service>,
    Console(user): Console,
    Query(q): Query<ListQuery>,
) -> Result<Response, Response> {
    let users = service
        .list_users(user.caller, q.after.map(UserId), PAGE)
        .await
        .or_page(&user)?;
    let next = (users.len() == PAGE as usize)
        .then(|| users.last())
        .flatten()
        .map(|u| format!("/console/users?after={}", u.id.0));
    Ok(page::ok(
        &user,
        Section::Users,
        "Users",
        html! {
            h1 { "Users" }
            (page::done_notice(q.done.as_deref()))
            div.actions { a.button href="/console/users/new" { "New user" } }
            @if users.is_empty() {
                p { "No users yet." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Id" } th { "Username" } th { "Full name" } th { "Email" } th { "Created" } } }
                        tbody {
                            @for u in &users {
                                tr {
                                    td { (u.id.0) }
                                    td { a href={"/console/users/" (u.id.0)} { (u.username) } }
                                    td { (u.full_name) }
                                    td { (u.email) }
                                    td { (page::when(u.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            (page::pager("Pages", q.after.is_some().then_some("/console/users"), next.as_deref(), false))
        },
    ))
}

struct Values {
    full_name: String,
    username: String,
    email: String,
}

fn user_form(
    user: &ConsoleUser,
    action: &str,
    v: &Values,
    problems: &Problems,
    creating: bool,
) -> Markup {
    html! {
        (problems.summary(&["full_name", "username", "email", "password"]))
        form.card method="post" action=(action) novalidate {
            (page::csrf(user))
            (page::input("full_name", "Full name", Kind::Text, &v.full_name, problems, None))
            (page::input("username", "Username", Kind::Text, &v.username, problems,
                Some("Shares one namespace with group slugs.")))
            (page::input("email", "Email address", Kind::Email, &v.email, problems, None))
            (page::input("password", if creating { "Password" } else { "New password (empty: unchanged)" },
                Kind::Password, "", problems, None))
            div.actions {
                button type="submit" { @if creating { "Create the user" } @else { "Save" } }
                a.button.secondary href="/console/users" { "Cancel" }
            }
        }
    }
}

fn draft_of(form: &Posted, creating: bool) -> UserDraft {
    let password = form.text("password");
    UserDraft {
        full_name: Some(form.text("full_name")),
        username: Some(form.text("username")),
        email: Some(form.text("email")),
        password: (creating || !password.is_empty()).then_some(password),
        errors: Default::default(),
    }
}

fn values_of(form: &Posted) -> Values {
    Values {
        full_name: form.text("full_name"),
        username: form.text("username"),
        email: form.text("email"),
    }
}

/// `GET /console/users/new`.
pub async fn new_form(Console(user): Console) -> Response {
    let v = Values {
        full_name: String::new(),
        username: String::new(),
        email: String::new(),
    };
    let body = user_form(&user, "/console/users", &v, &Problems::none(), true);
    page::titled(&user, Section::Users, "New user", false, body)
}

/// `POST /console/users`.
pub async fn create(
    State(service): State<Service>,
    Console(user): Console,
    form: Posted,
) -> Response {
    match service
        .create_user(user.caller, draft_of(&form, true))
        .await
    {
        Ok(u) => {
            Redirect::to(&format!("/console/users/{}?done=user-created", u.id.0)).into_response()
        }
        Err(e) => match Problems::of(&e) {
            Some(problems) => {
                let body = user_form(&user, "/console/users", &values_of(&form), &problems, true);
                page::titled(&user, Section::Users, "New user", true, body)
            }
            None => page::service_failure(&user, &e),
        },
    }
}

/// The groups the user is a member of, with their role: read from the pages of
/// groups the user can see, so at most [`MEMBERSHIP_SCAN_PAGES`] thousand.
async fn memberships(
    service: &Service,
    user: &ConsoleUser,
    u: &User,
) -> Result<(Vec<(Group, GroupRole)>, bool), ServiceError> {
    let mut out = Vec::new();
    let mut after: Option<GroupCursor> = None;
    for _ in 0..MEMBERSHIP_SCAN_PAGES {
        let q = GroupQuery {
            after,
            limit: 1000,
            ..Default::default()
        };
        let (_, page) = service
            .user_groups(user.caller, &u.id.0.to_string(), q)
            .await?;
        let full = page.len() == 1000;
        after = page.last().map(|(g, _)| GroupCursor {
            pinned: g.pinned,
            id: g.id,
        });
        out.extend(page.into_iter().filter_map(|(g, r)| r.map(|r| (g, r))));
        if !full {
            return Ok((out, false));
        }
    }
    Ok((out, true))
}

async fn user_page(
    service: &Service,
    user: &ConsoleUser,
    id: &str,
    done: Option<&str>,
    problems: &Problems,
    posted: Option<&Posted>,
) -> Result<(User, Markup), ServiceError> {
    let u = service.get_user(user.caller, id).await?;
    let (groups, cut) = memberships(service, user, &u).await?;
    let v = posted.map(values_of).unwrap_or(Values {
        full_name: u.full_name.clone(),
        username: u.username.clone(),
        email: u.email.clone(),
    });
    let action = format!("/console/users/{}", u.id.0);
    let markup = html! {
        h1 { (u.username) }
        (page::done_notice(done))
        p.muted { "User " (u.id.0) " · created " (page::when(u.created_at)) " · updated " (page::when(u.updated_at)) }
        h2 { "Details" }
        (user_form(user, &action, &v, problems, false))
        h2 { "Groups" }
        @if groups.is_empty() {
            p { "Not a member of any group." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "Group" } th { "Role" } } }
                    tbody {
                        @for (g, r) in &groups {
                            tr { td { a href={"/console/groups/" (g.id.0)} { (g.name) } } td { (r.as_str()) } }
                        }
                    }
                }
            }
            @if cut { p.hint { "Only the user's groups among the first " (MEMBERSHIP_SCAN_PAGES * 1000) " groups are shown." } }
        }
        p { a href={"/console/events?user=" (u.id.0)} { "Events about this user" } }
        h2 { "Remove" }
        form.card method="post" action={(action) "/delete"}
            data-confirm={"Remove " (u.username) " and their memberships? This cannot be undone."} {
            (page::csrf(user))
            div.actions { button.danger type="submit" { "Remove the user" } }
        }
    };
    Ok((u, markup))
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    done: Option<String>,
}

/// `GET /console/users/{id}`.
pub async fn show(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    match user_page(
        &service,
        &user,
        &id,
        q.done.as_deref(),
        &Problems::none(),
        None,
    )
    .await
    {
        Ok((u, markup)) => page::ok(&user, Section::Users, &u.username, markup),
        Err(e) => page::service_failure(&user, &e),
    }
}

/// `POST /console/users/{id}`.
pub async fn update(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    form: Posted,
) -> Response {
    match service
        .update_user(user.caller, &id, draft_of(&form, false))
        .await
    {
        Ok(u) => {
            Redirect::to(&format!("/console/users/{}?done=user-saved", u.id.0)).into_response()
        }
        Err(e) => match Problems::of(&e) {
            Some(problems) if !matches!(e, ServiceError::AccountNotFound) => {
                match user_page(&service, &user, &id, None, &problems, Some(&form)).await {
                    Ok((u, markup)) => page::invalid(&user, Section::Users, &u.username, markup),
                    Err(e) => page::service_failure(&user, &e),
                }
            }
            _ => page::service_failure(&user, &e),
        },
    }
}

/// `POST /console/users/{id}/delete`.
pub async fn delete(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    match service.delete_user(user.caller, &id).await {
        Ok(()) => Redirect::to("/console/users?done=user-deleted").into_response(),
        Err(e) => page::service_failure(&user, &e),
    }
}

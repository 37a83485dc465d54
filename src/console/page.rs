//! The console's layout and the pieces every page uses: navigation, notices,
//! inputs with their errors beside them, and the answer's security headers.

use crate::domain::ValidationErrors;
use crate::service::ServiceError;
use crate::service::console::ConsoleUser;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// Where a page sits in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Groups,
    Users,
    Schema,
    Keys,
    Webhooks,
    Events,
    Outside,
}

const NAV: [(Section, &str, &str); 7] = [
    (Section::Overview, "/console/", "Overview"),
    (Section::Groups, "/console/groups", "Groups"),
    (Section::Users, "/console/users", "Users"),
    (Section::Schema, "/console/schema", "Categories & fields"),
    (Section::Keys, "/console/keys", "API keys"),
    (Section::Webhooks, "/console/webhooks", "Webhooks"),
    (Section::Events, "/console/events", "Audit log"),
];

/// A whole page around `body`.
pub fn layout(user: Option<&ConsoleUser>, section: Section, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · groupd console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.bar {
                        a.brand href="/console/" { "groupd" }
                        @if let Some(u) = user {
                            nav aria-label="Console" {
                                ul {
                                    @for (s, href, name) in NAV {
                                        li {
                                            a href=(href) aria-current=[(s == section).then_some("page")] { (name) }
                                        }
                                    }
                                }
                            }
                            div.who {
                                span { "Workspace " strong { (u.workspace_name) } " · " (u.who) }
                                form method="post" action="/console/sign-out" {
                                    (csrf(u))
                                    button type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF input every form of a signed-in page carries.
pub fn csrf(user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name="_csrf" value=(user.csrf); }
}

/// An HTML answer with the console's headers: no caching (pages show secrets
/// once), no framing, scripts and styles from this server only.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self'; style-src 'self'; \
                 img-src 'self' blob: http: https:; form-action 'self'; frame-ancestors 'none'; \
                 base-uri 'none'",
            ),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// A signed-in page, 200.
pub fn ok(user: &ConsoleUser, section: Section, title: &str, body: Markup) -> Response {
    respond(StatusCode::OK, layout(Some(user), section, title, body))
}

/// A form shown again with what was wrong, 422.
pub fn invalid(user: &ConsoleUser, section: Section, title: &str, body: Markup) -> Response {
    respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout(Some(user), section, title, body),
    )
}

/// A page that only says something went wrong, with the status that fits.
pub fn failure(user: Option<&ConsoleUser>, status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    respond(
        status,
        layout(
            user,
            Section::Outside,
            title,
            html! {
                h1 { (title) }
                p.notice.bad role="alert" { (message) }
                p { a href="/console/" { "Back to the overview" } }
            },
        ),
    )
}

/// The answer for a service error that no form can show beside a field: not
/// found (404), unavailable (503), anything else the error's own words (409).
pub fn service_failure(user: &ConsoleUser, e: &ServiceError) -> Response {
    let status = match e {
        ServiceError::GroupNotFound
        | ServiceError::AccountNotFound
        | ServiceError::WebhookNotFound
        | ServiceError::DeliveryNotFound
        | ServiceError::KeyNotFound(_)
        | ServiceError::CategoryNotFound(_)
        | ServiceError::FieldNotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ServiceError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::CONFLICT,
    };
    match e {
        ServiceError::Unavailable(m) | ServiceError::Internal(m) => {
            tracing::warn!(error = %m, "console request failed");
            failure(
                Some(user),
                status,
                "Something went wrong on the server; try again shortly.",
            )
        }
        ServiceError::Invalid(errors) => {
            let text: Vec<String> = errors
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect();
            failure(Some(user), status, &text.join("; "))
        }
        other => failure(Some(user), status, &sentence(&other.to_string())),
    }
}

pub async fn not_found(user: Option<super::Console>) -> Response {
    failure(
        user.as_ref().map(|c| &c.0),
        StatusCode::NOT_FOUND,
        "There is no such page in the console.",
    )
}

/// The message with a capital first letter and a full stop.
pub fn sentence(s: &str) -> String {
    let mut out: String = s.chars().take(1).flat_map(char::to_uppercase).collect();
    out.push_str(&s[s.chars().take(1).map(char::len_utf8).sum::<usize>()..]);
    if !out.ends_with('.') && !out.ends_with(':') {
        out.push('.');
    }
    out
}

/// What a form got wrong: messages by field (the names the API uses), and the
/// rest for the top of the form.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    fields: Vec<(String, String)>,
    general: Vec<String>,
}

impl Problems {
    pub fn none() -> Problems {
        Problems::default()
    }

    /// A service error as form problems, when a form can show it; `None` for
    /// errors that are not about the input (the caller renders a failure page).
    pub fn of(e: &ServiceError) -> Option<Problems> {
        let mut p = Problems::default();
        let field = |f: &str| Some((f.to_string(), sentence(&e.to_string())));
        let at = match e {
            ServiceError::Invalid(errors) => {
                p.add_validation(errors);
                None
            }
            ServiceError::SlugTaken => field("slug"),
            ServiceError::UsernameTaken => field("username"),
            ServiceError::EmailTaken => field("email"),
            ServiceError::CategoryNotFound(_) => field("category_id"),
            ServiceError::FieldNotFound(id) => field(&format!("custom_field_{id}")),
            ServiceError::GroupFull { .. }
            | ServiceError::AlreadyMember
            | ServiceError::UserInactive(_)
            | ServiceError::NotAMember
            | ServiceError::AccountNotFound => field("users"),
            ServiceError::SuccessorNotFound(_) | ServiceError::SuccessorAmongRemoved(_) => {
                field("successor")
            }
            ServiceError::Unavailable(_) | ServiceError::Internal(_) => return None,
            other => {
                p.general.push(sentence(&other.to_string()));
                None
            }
        };
        if let Some(f) = at {
            p.fields.push(f);
        }
        Some(p)
    }

    pub fn add_validation(&mut self, errors: &ValidationErrors) {
        for f in errors.fields() {
            self.fields.push((f.field.clone(), sentence(&f.message)));
        }
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.as_str())
    }

    /// Problems with fields this form does not show, and the general ones.
    pub fn summary(&self, shown: &[&str]) -> Markup {
        let others: Vec<String> = self
            .fields
            .iter()
            .filter(|(f, _)| !shown.contains(&f.as_str()) && !f.starts_with("custom_field_"))
            .map(|(f, m)| format!("{f}: {m}"))
            .chain(self.general.iter().cloned())
            .collect();
        let any = !self.fields.is_empty() || !self.general.is_empty();
        html! {
            @if any {
                div.notice.bad role="alert" {
                    "Nothing was saved: correct the fields marked below."
                    @for o in &others { br; (o) }
                }
            }
        }
    }
}

/// The kinds of `<input>` the console uses.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    Email,
    Password,
    Url,
    Number,
    Date,
    Search,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Email => "email",
            Kind::Password => "password",
            Kind::Url => "url",
            Kind::Number => "number",
            Kind::Date => "date",
            Kind::Search => "search",
        }
    }
}

/// A labelled input with its hint and its error beside it.
pub fn input(
    name: &str,
    label: &str,
    kind: Kind,
    value: &str,
    problems: &Problems,
    hint: Option<&str>,
) -> Markup {
    let id = format!("f-{name}");
    let error = problems.field(name);
    let described = describe(&id, hint.is_some(), error.is_some());
    html! {
        label for=(id) { (label) }
        @if let Some(h) = hint { p.hint id={(id) "-hint"} { (h) } }
        input type=(kind.as_str()) id=(id) name=(name) value=(value)
            step=[matches!(kind, Kind::Number).then_some("any")]
            aria-invalid=[error.is_some().then_some("true")]
            aria-describedby=[described];
        @if let Some(e) = error { p.error id={(id) "-error"} { (e) } }
    }
}

/// A labelled textarea with its error beside it.
pub fn textarea(name: &str, label: &str, value: &str, problems: &Problems) -> Markup {
    let id = format!("f-{name}");
    let error = problems.field(name);
    html! {
        label for=(id) { (label) }
        textarea id=(id) name=(name) aria-invalid=[error.is_some().then_some("true")]
            aria-describedby=[error.map(|_| format!("{id}-error"))] { (value) }
        @if let Some(e) = error { p.error id={(id) "-error"} { (e) } }
    }
}

/// A labelled select; `options` are (value, text).
pub fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    chosen: &str,
    problems: &Problems,
) -> Markup {
    let id = format!("f-{name}");
    let error = problems.field(name);
    html! {
        label for=(id) { (label) }
        select id=(id) name=(name) aria-invalid=[error.is_some().then_some("true")]
            aria-describedby=[error.map(|_| format!("{id}-error"))] {
            @for (v, t) in options {
                option value=(v) selected[v == chosen] { (t) }
            }
        }
        @if let Some(e) = error { p.error id={(id) "-error"} { (e) } }
    }
}

/// A checkbox sending `1` when ticked.
pub fn checkbox(name: &str, label: &str, checked: bool, problems: &Problems) -> Markup {
    let id = format!("f-{name}");
    let error = problems.field(name);
    html! {
        label.check for=(id) {
            input type="checkbox" id=(id) name=(name) value="1" checked[checked];
            (label)
        }
        @if let Some(e) = error { p.error { (e) } }
    }
}

fn describe(id: &str, hint: bool, error: bool) -> Option<String> {
    let parts: Vec<String> = [
        hint.then(|| format!("{id}-hint")),
        error.then(|| format!("{id}-error")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The notice a redirect after a change asks for (`?done=<what>`).
pub fn done_notice(done: Option<&str>) -> Markup {
    let text = match done.unwrap_or("") {
        "group-created" => "The group was created.",
        "group-saved" => "The group was saved.",
        "group-deleted" => "The group was deleted.",
        "members-added" => "The members were added.",
        "member-removed" => "The member was removed.",
        "role-changed" => "The role was changed.",
        "user-created" => "The user was created.",
        "user-saved" => "The user was saved.",
        "user-deleted" => "The user was deleted.",
        "category-created" => "The category was created.",
        "category-renamed" => "The category was renamed.",
        "category-deleted" => "The category was deleted; its groups moved to Uncategorized.",
        "field-created" => "The custom field was created.",
        "field-deleted" => "The custom field was deleted, with its values.",
        "key-revoked" => "The key was revoked: requests with it are refused from now on.",
        "webhook-saved" => "The endpoint was saved.",
        "webhook-deleted" => "The endpoint was deleted.",
        "delivery-retried" => "The delivery will be sent again shortly.",
        _ => return html! {},
    };
    html! { p.notice.ok role="status" { (text) } }
}

/// A timestamp (seconds) as UTC text.
pub fn when(secs: i64) -> String {
    when_ms(secs.saturating_mul(1000))
}

/// A timestamp (milliseconds) as UTC text, to the second.
pub fn when_ms(ms: i64) -> String {
    let full = crate::domain::event::rfc3339_ms(ms);
    // 2026-12-01T16:20:24.123Z -> 2026-12-01 16:20:24 UTC
    match full.get(..19) {
        Some(s) => format!("{} UTC", s.replace('T', " ")),
        None => full,
    }
}

/// A service answer, or the page that says why there is none: for handlers that
/// return `Result<Response, Response>` and read with `?`.
pub trait OrPage<T> {
    // The error is the handler's whole answer, made once per request: boxing it
    // would only add an allocation.
    #[allow(clippy::result_large_err)]
    fn or_page(self, user: &ConsoleUser) -> Result<T, Response>;
}

impl<T> OrPage<T> for Result<T, ServiceError> {
    fn or_page(self, user: &ConsoleUser) -> Result<T, Response> {
        self.map_err(|e| service_failure(user, &e))
    }
}

/// A signed-in page headed by its title: 200, or 422 when `refused` (a form shown
/// again beside its errors).
pub fn titled(
    user: &ConsoleUser,
    section: Section,
    title: &str,
    refused: bool,
    body: Markup,
) -> Response {
    let markup = html! { h1 { (title) } (body) };
    if refused {
        invalid(user, section, title, markup)
    } else {
        ok(user, section, title, markup)
    }
}

/// Links to the first page (when not on it) and the next: "First page" and "Next
/// page", or "Newest" and "Older" for lists that run newest first.
pub fn pager(label: &str, first: Option<&str>, next: Option<&str>, newest_first: bool) -> Markup {
    let (first_word, next_word) = if newest_first {
        ("Newest", "Older")
    } else {
        ("First page", "Next page")
    };
    html! {
        nav.pager aria-label=(label) {
            @if let Some(f) = first { a.button.secondary href=(f) { (first_word) } }
            @if let Some(n) = next { a.button.secondary href=(n) rel="next" { (next_word) } }
        }
    }
}

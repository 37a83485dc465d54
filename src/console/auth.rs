//! Signing in and out, and the two extractors every console page uses.

use super::page::{self, Kind, Problems, Section};
use crate::server::ClientAddr;
use crate::service::console::{ConsoleUser, SignIn, csrf_matches};
use crate::service::{Service, ServiceError};
use crate::wire::body::{BodyError, read_body};
use crate::wire::form::{self, FilePart, FormFields};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

/// The session cookie. Scoped to `/console`, so API requests never carry it.
pub const COOKIE: &str = "groupd_console";

/// The session token the request's cookie carries, if any.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Whether the request reached us over https (a proxy in front says so).
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn cookie(value: &str, max_age: Option<u32>, secure: bool) -> HeaderValue {
    let mut c = format!("{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static(""))
}

/// The signed-in session of a console request. Without one, the request is sent
/// to the sign-in page (and comes back to where it was going afterwards).
pub struct Console(pub ConsoleUser);

impl FromRequestParts<Service> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, Response> {
        let Some(token) = session_token(&parts.headers) else {
            return Err(to_sign_in(parts, false));
        };
        match service.console_session(token).await {
            Ok(user) => Ok(Console(user)),
            Err(ServiceError::SessionEnded) => Err(to_sign_in(parts, true)),
            Err(e) => Err(page::failure(
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                &page::sentence(&e.to_string()),
            )),
        }
    }
}

impl OptionalFromRequestParts<Service> for Console {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Service,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Console as FromRequestParts<Service>>::from_request_parts(parts, service)
                .await
                .ok(),
        )
    }
}

/// A redirect to the sign-in page, back to this page afterwards (GET only).
fn to_sign_in(parts: &Parts, ended: bool) -> Response {
    let next = if parts.method == axum::http::Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/console/")
    } else {
        "/console/"
    };
    let mut target = format!(
        "/console/sign-in?next={}",
        percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
    );
    if ended {
        target.push_str("&ended=1");
    }
    let mut response = Redirect::to(&target).into_response();
    if ended {
        response.headers_mut().insert(
            header::SET_COOKIE,
            cookie("", Some(0), over_https(&parts.headers)),
        );
    }
    response
}

/// `axum`'s query extractor, refusing in the console's own format (a page saying
/// what could not be read) instead of axum's plain-text 400.
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        <axum::extract::Query<T> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| {
                page::failure(
                    None,
                    StatusCode::BAD_REQUEST,
                    &page::sentence(&format!("the address cannot be read: {}", e.body_text())),
                )
            })
    }
}

/// `axum`'s path extractor, refusing in the console's own format.
pub struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        <axum::extract::Path<T> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| {
                page::failure(
                    None,
                    StatusCode::NOT_FOUND,
                    &page::sentence(&format!("the address cannot be read: {}", e.body_text())),
                )
            })
    }
}

/// A console form body whose CSRF token (`_csrf`) belongs to the request's
/// session. Urlencoded or multipart (with its files, for icons).
pub struct Posted {
    pub fields: FormFields,
    pub files: Vec<FilePart>,
}

impl Posted {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").to_string()
    }

    pub fn ticked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v == "1" || v == "on")
    }

    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_ref())
    }
}

impl FromRequest<Service> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, _: &Service) -> Result<Self, Response> {
        let (fields, files, token) = read_form(req).await?;
        let presented = fields.get("_csrf").unwrap_or("");
        if !token.as_deref().is_some_and(|t| csrf_matches(t, presented)) {
            return Err(page::failure(
                None,
                StatusCode::FORBIDDEN,
                "This form was refused: its security token (CSRF) does not belong to your \
                 session. Reload the page and submit it again.",
            ));
        }
        Ok(Posted { fields, files })
    }
}

type ReadForm = (FormFields, Vec<FilePart>, Option<String>);

async fn read_form(req: Request) -> Result<ReadForm, Response> {
    let (parts, body) = req.into_parts();
    let token = session_token(&parts.headers).map(str::to_string);
    let refuse = |status, message: String| page::failure(None, status, &message);
    let bytes = read_body(body, super::MAX_BODY_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "The form is larger than {} MiB; choose a smaller icon file.",
                    super::MAX_BODY_BYTES / (1024 * 1024)
                ),
            ),
            BodyError::Busy => refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                page::sentence(&e.to_string()),
            ),
            _ => refuse(StatusCode::BAD_REQUEST, page::sentence(&e.to_string())),
        })?;
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bad = |e: form::FormError| refuse(StatusCode::BAD_REQUEST, page::sentence(&e.to_string()));
    if ct
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary = multer::parse_boundary(ct).map_err(|e| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("The form cannot be read: {e}."),
            )
        })?;
        let (fields, files) = form::parse_multipart_files(bytes, &boundary)
            .await
            .map_err(bad)?;
        Ok((fields, files, token))
    } else {
        let fields = form::parse_body(Some(ct), bytes).await.map_err(bad)?;
        Ok((fields, Vec::new(), token))
    }
}

#[derive(Deserialize, Default)]
pub struct SignInQuery {
    next: Option<String>,
    ended: Option<String>,
    signed_out: Option<String>,
}

/// Only places inside the console are returned to after sign-in.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console/") && !n.contains("//") && !n.contains('\\') => n,
        _ => "/console/",
    }
}

struct SignInForm<'a> {
    next: &'a str,
    workspace: &'a str,
    username: &'a str,
    method: &'a str,
    notice: Option<(bool, String)>,
    problems: Problems,
}

fn sign_in_page(status: StatusCode, f: SignInForm<'_>) -> Response {
    let p = &f.problems;
    let none = Problems::none();
    let key_problems = if f.method == "key" { p } else { &none };
    let password_problems = if f.method == "password" { p } else { &none };
    page::respond(
        status,
        page::layout(
            None,
            Section::Outside,
            "Sign in",
            html! {
                div.signin {
                    h1 { "Sign in to the groupd console" }
                    @if let Some((good, text)) = &f.notice {
                        @if *good { p.notice.ok role="status" { (text) } }
                        @else { p.notice.bad role="alert" { (text) } }
                    }
                    form.card method="post" action="/console/sign-in" {
                        h2 { "With a username and password" }
                        p.hint { "For users holding the admin role in the workspace's Admin group." }
                        input type="hidden" name="method" value="password";
                        input type="hidden" name="next" value=(f.next);
                        (page::input("workspace", "Workspace", Kind::Text,
                            if f.workspace.is_empty() { "default" } else { f.workspace }, p, None))
                        (page::input("username", "Username or email address", Kind::Text,
                            f.username, p, None))
                        (page::input("password", "Password", Kind::Password, "",
                            password_problems, None))
                        div.actions { button type="submit" { "Sign in" } }
                    }
                    form.card method="post" action="/console/sign-in" {
                        h2 { "With an API key" }
                        p.hint { "Any key of the workspace (made by " code { "groupd key create" } " or on the API keys page)." }
                        input type="hidden" name="method" value="key";
                        input type="hidden" name="next" value=(f.next);
                        (page::input("key", "API key", Kind::Password, "",
                            key_problems, None))
                        div.actions { button type="submit" { "Sign in with the key" } }
                    }
                }
            },
        ),
    )
}

/// `GET /console/sign-in`.
pub async fn form(user: Option<Console>, Query(q): Query<SignInQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if user.is_some() {
        return Redirect::to(next).into_response();
    }
    let notice = if q.ended.is_some() {
        Some((false, "Your session has ended. Sign in again.".to_string()))
    } else if q.signed_out.is_some() {
        Some((true, "You are signed out.".to_string()))
    } else {
        None
    };
    sign_in_page(
        StatusCode::OK,
        SignInForm {
            next,
            workspace: "",
            username: "",
            method: "",
            notice,
            problems: Problems::none(),
        },
    )
}

/// Whether a browser's `Origin` (when it sends one) is this server: a sign-in
/// posted from another site is refused (login CSRF).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// `POST /console/sign-in`.
pub async fn sign_in(
    axum::extract::State(service): axum::extract::State<Service>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .map(|a| a.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    if !same_origin(&headers) {
        return page::failure(
            None,
            StatusCode::FORBIDDEN,
            "Sign-in forms are accepted from this server's own pages only.",
        );
    }
    let (fields, _, _) = match read_form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |n: &str| fields.get(n).unwrap_or("").to_string();
    let method = get("method");
    let next = get("next");
    let how = if method == "key" {
        SignIn::Key(get("key"))
    } else {
        SignIn::Password {
            workspace: get("workspace"),
            username: get("username"),
            password: get("password"),
        }
    };
    let field = if method == "key" { "key" } else { "password" };
    let (status, message) = match service.console_sign_in(how, &client).await {
        Ok(token) => {
            let mut response = Redirect::to(safe_next(Some(&next))).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                cookie(&token, None, over_https(&headers)),
            );
            return response;
        }
        Err(ServiceError::SignInRefused) if method == "key" => (
            StatusCode::UNAUTHORIZED,
            "This key is not valid: it is unknown, mistyped or revoked.".to_string(),
        ),
        Err(ServiceError::SignInRefused) => (
            StatusCode::UNAUTHORIZED,
            "The workspace, username or password is wrong.".to_string(),
        ),
        Err(ServiceError::NotConsoleAdmin) => (
            StatusCode::FORBIDDEN,
            "This user does not hold the admin role in the workspace's Admin group, so \
             cannot use the console."
                .to_string(),
        ),
        Err(ServiceError::TooManySignIns { wait_secs }) => {
            let mut r = sign_in_page(
                StatusCode::TOO_MANY_REQUESTS,
                SignInForm {
                    next: safe_next(Some(&next)),
                    workspace: &get("workspace"),
                    username: &get("username"),
                    method: &method,
                    notice: Some((
                        false,
                        format!(
                            "Too many failed sign-ins. Wait {wait_secs} s before trying again."
                        ),
                    )),
                    problems: Problems::none(),
                },
            );
            if let Ok(v) = HeaderValue::from_str(&wait_secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            page::sentence(&e.to_string()),
        ),
    };
    let mut problems = Problems::none();
    problems.add_validation(&crate::domain::ValidationErrors::single(field, message));
    sign_in_page(
        status,
        SignInForm {
            next: safe_next(Some(&next)),
            workspace: &get("workspace"),
            username: &get("username"),
            method: &method,
            notice: None,
            problems,
        },
    )
}

/// `POST /console/sign-out`: ends the session here and on every instance.
pub async fn sign_out(
    axum::extract::State(service): axum::extract::State<Service>,
    headers: HeaderMap,
    _form: Posted,
) -> Response {
    if let Some(token) = session_token(&headers) {
        if let Err(e) = service.console_sign_out(token).await {
            return page::failure(
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                &page::sentence(&e.to_string()),
            );
        }
    }
    let mut response = Redirect::to("/console/sign-in?signed_out=1").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie("", Some(0), over_https(&headers)),
    );
    response
}

//! Groups: the list (search, filters, keyset pages, pinned first), the create and
//! edit form with every field the dialects know, deletion with a successor, and
//! a group's page with its members (paged, added in bulk, roles, removal) and its
//! recent events.

use super::page::{self, Kind, OrPage, Problems, Section};
use super::{Console, Posted};
use super::{Path, Query};
use crate::domain::category::Category;
use crate::domain::event::Event;
use crate::domain::event::EventQuery;
use crate::domain::field::{FieldDef, FieldKind};
use crate::domain::group::{Group, GroupDraft, GroupId};
use crate::domain::listing::{GroupCursor, GroupQuery};
use crate::domain::policy::{LimitKind, PERMISSIONS, Period, PolicyPatch};
use crate::domain::user::{GroupRole, Membership, UserId};
use crate::service::console::ConsoleUser;
use crate::service::{Service, ServiceError};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

const PAGE: u32 = 50;
/// Users pasted at once into the add-members box.
const PASTE_MAX: usize = crate::service::BULK_MAX;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    category: Option<String>,
    visibility: Option<String>,
    pinned: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

fn parse_cursor(raw: Option<&str>) -> Option<GroupCursor> {
    let (p, id) = raw?.split_once('.')?;
    Some(GroupCursor {
        pinned: p == "1",
        id: GroupId(id.parse().ok()?),
    })
}

fn category_name(categories: &[Category], id: i64) -> &str {
    categories
        .iter()
        .find(|c| c.id == id)
        .map_or("?", |c| c.name.as_str())
}

fn flags(g: &Group) -> Markup {
    html! {
        @if let Some(b) = g.builtin { span.pill { "built-in " (b.as_str()) } }
        @if g.pinned { span.pill { "pinned" } }
        @if g.secret { span.pill { "secret" } }
        @if g.unleavable { span.pill { "unleavable" } }
        @if g.password_protected() { span.pill { "password" } }
    }
}

/// `GET /console/groups`.
pub async fn list(
    State(service): State<Service>,
    Console(user): Console,
    Query(q): Query<ListQuery>,
) -> Result<Response, Response> {
    let categories = service.list_categories(user.caller).await.or_page(&user)?;
    let text = q.q.clone().unwrap_or_default();
    let category = q.category.as_deref().and_then(|c| c.parse::<i64>().ok());
    let visibility = q.visibility.clone().unwrap_or_default();
    let pinned = q.pinned.clone().unwrap_or_default();
    let query = GroupQuery {
        category,
        name_prefix: Some(text.trim().to_lowercase()).filter(|t| !t.is_empty()),
        secret: match visibility.as_str() {
            "secret" => Some(true),
            "public" => Some(false),
            _ => None,
        },
        pinned: match pinned.as_str() {
            "pinned" => Some(true),
            "unpinned" => Some(false),
            _ => None,
        },
        visible_to: None,
        after: parse_cursor(q.after.as_deref()),
        limit: PAGE,
    };
    let groups = service
        .query_groups(user.caller, query)
        .await
        .or_page(&user)?;
    let next = (groups.len() == PAGE as usize)
        .then(|| groups.last())
        .flatten()
        .map(|g| {
            let mut pairs = url::form_urlencoded::Serializer::new(String::new());
            pairs.append_pair("q", &text);
            if let Some(c) = category {
                pairs.append_pair("category", &c.to_string());
            }
            pairs.append_pair("visibility", &visibility);
            pairs.append_pair("pinned", &pinned);
            pairs.append_pair(
                "after",
                &format!("{}.{}", if g.pinned { 1 } else { 0 }, g.id.0),
            );
            format!("/console/groups?{}", pairs.finish())
        });
    let mut category_options = vec![(String::new(), "Any category".to_string())];
    category_options.extend(
        categories
            .iter()
            .map(|c| (c.id.to_string(), format!("{} ({})", c.name, c.id))),
    );
    let none = Problems::none();
    let opts = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    Ok(page::ok(
        &user,
        Section::Groups,
        "Groups",
        html! {
            h1 { "Groups" }
            (page::done_notice(q.done.as_deref()))
            div.actions { a.button href="/console/groups/new" { "New group" } }
            form.card.filters method="get" action="/console/groups" role="search" {
                div { (page::input("q", "Name starts with", Kind::Search, &text, &none, None)) }
                div { (page::select("category", "Category", &category_options,
                    &category.map(|c| c.to_string()).unwrap_or_default(), &none)) }
                div { (page::select("visibility", "Visibility",
                    &opts(&[("", "Public and secret"), ("public", "Public only"), ("secret", "Secret only")]),
                    &visibility, &none)) }
                div { (page::select("pinned", "Pinned",
                    &opts(&[("", "Pinned and not"), ("pinned", "Pinned only"), ("unpinned", "Not pinned")]),
                    &pinned, &none)) }
                div { button type="submit" { "Search" } }
            }
            @if groups.is_empty() {
                p { "No groups match." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Icon" } th { "Name" } th { "Id" } th { "Slug" } th { "Category" } th { "Members" } th { "Flags" } } }
                        tbody {
                            @for g in &groups {
                                tr {
                                    td { img.icon src=(g.icon_path()) alt=""; }
                                    td { a href={"/console/groups/" (g.id.0)} { (g.name) } }
                                    td { (g.id.0) }
                                    td { @if let Some(s) = &g.slug { code { (s) } } }
                                    td { (category_name(&categories, g.category_id)) }
                                    td { (g.member_count) }
                                    td { (flags(g)) }
                                }
                            }
                        }
                    }
                }
            }
            (page::pager("Pages", q.after.is_some().then_some("/console/groups"), next.as_deref(), false))
        },
    ))
}

/// What the group form shows: a group's values, or what was just posted.
struct FormValues {
    name: String,
    slug: String,
    description: String,
    category_id: String,
    secret: bool,
    unleavable: bool,
    pinned: bool,
    protected: bool,
    icon_url: String,
    icon_path: Option<String>,
    custom: Vec<(i64, String)>,
    permissions: Vec<String>,
    limits: Vec<(LimitKind, String, String)>,
    unsubscribe_link: bool,
    abuse_ratio: String,
    lists: String,
    send_methods: String,
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl FormValues {
    fn empty() -> FormValues {
        FormValues::of(&Group {
            id: GroupId(0),
            workspace: crate::domain::workspace::WorkspaceId(0),
            name: String::new(),
            slug: None,
            description: String::new(),
            category_id: crate::domain::category::DEFAULT_CATEGORY_ID,
            secret: false,
            unleavable: false,
            pinned: false,
            password_hash: None,
            icon_token: None,
            custom_fields: Default::default(),
            policy: Default::default(),
            builtin: None,
            member_count: 0,
            external_id: None,
            created_at: 0,
            updated_at: 0,
        })
    }

    fn of(g: &Group) -> FormValues {
        FormValues {
            name: g.name.clone(),
            slug: g.slug.clone().unwrap_or_default(),
            description: g.description.clone(),
            category_id: g.category_id.to_string(),
            secret: g.secret,
            unleavable: g.unleavable,
            pinned: g.pinned,
            protected: g.password_protected(),
            icon_url: String::new(),
            icon_path: g.has_icon().then(|| g.icon_path()),
            custom: g
                .custom_fields
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            permissions: g.policy.permissions.iter().cloned().collect(),
            limits: LimitKind::ALL
                .iter()
                .map(|k| {
                    let l = g.policy.limits.get(k);
                    (
                        *k,
                        l.map(|l| l.amount.to_string()).unwrap_or_default(),
                        l.and_then(|l| l.period)
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            unsubscribe_link: g.policy.unsubscribe_link,
            abuse_ratio: g.policy.abuse_ratio.to_string(),
            lists: join_ids(&g.policy.lists),
            send_methods: join_ids(&g.policy.send_methods),
        }
    }

    /// What was posted, to show again beside its errors.
    fn posted(form: &Posted, existing: Option<&Group>) -> FormValues {
        let mut v = existing.map_or_else(FormValues::empty, FormValues::of);
        v.name = form.text("name");
        v.slug = form.text("slug");
        v.description = form.text("description");
        v.category_id = form.text("category_id");
        v.secret = form.ticked("secret");
        v.unleavable = form.ticked("unleavable");
        v.pinned = form.ticked("pinned");
        v.icon_url = form.text("icon_url");
        v.custom = form
            .fields
            .pairs()
            .iter()
            .filter_map(|(k, val)| {
                let id = k.strip_prefix("custom_field_")?.parse().ok()?;
                Some((id, val.clone()))
            })
            .collect();
        v.permissions = PERMISSIONS
            .iter()
            .filter(|p| form.ticked(&format!("perm_{p}")))
            .map(|p| p.to_string())
            .collect();
        v.limits = LimitKind::ALL
            .iter()
            .map(|k| {
                (
                    *k,
                    form.text(&format!("limit_{}", k.as_str())),
                    form.text(&format!("limit_{}_type", k.as_str())),
                )
            })
            .collect();
        v.unsubscribe_link = form.ticked("unsubscribe_link");
        v.abuse_ratio = form.text("abuse_ratio");
        v.lists = form.text("lists");
        v.send_methods = form.text("send_methods");
        v
    }
}

fn parse_ids(raw: &str) -> Result<Vec<i64>, ()> {
    raw.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().map_err(|_| ()))
        .collect()
}

/// The draft a posted group form makes. Every field is sent, so an update sets
/// each (an unticked box clears its flag, an empty custom field its value).
fn draft_of(form: &Posted, fields: &[FieldDef]) -> GroupDraft {
    let mut draft = GroupDraft {
        name: Some(form.text("name")),
        description: Some(form.text("description")),
        slug: Some(form.text("slug")),
        secret: Some(form.ticked("secret")),
        unleavable: Some(form.ticked("unleavable")),
        pinned: Some(form.ticked("pinned")),
        ..Default::default()
    };
    match form.get("category_id").map(str::trim) {
        None | Some("") => {}
        Some(raw) => match raw.parse::<i64>() {
            Ok(id) => draft.category_id = Some(id),
            Err(_) => draft.errors.push("category_id", "must be a category id"),
        },
    }
    match form.get("password_action") {
        Some("set") => {
            draft.password_protect = Some(true);
            draft.password = Some(form.text("password"));
        }
        Some("clear") => draft.password_protect = Some(false),
        _ => {}
    }
    let url = form.text("icon_url");
    if form.ticked("icon_clear") {
        draft.icon_url = Some(String::new());
    } else if !url.trim().is_empty() {
        draft.icon_url = Some(url);
    }
    draft.icon_upload = form.file("icon_file").map(<[u8]>::to_vec);
    draft.custom_fields = fields
        .iter()
        .filter_map(|f| {
            form.get(&format!("custom_field_{}", f.id))
                .map(|v| (f.id, v.to_string()))
        })
        .collect();
    if form.get("policy").is_some() {
        let mut patch = PolicyPatch {
            permissions: PERMISSIONS
                .iter()
                .map(|p| (p.to_string(), form.ticked(&format!("perm_{p}"))))
                .collect(),
            unsubscribe_link: Some(form.ticked("unsubscribe_link")),
            ..Default::default()
        };
        for kind in LimitKind::ALL {
            let name = format!("limit_{}", kind.as_str());
            let amount = form.text(&name);
            if amount.trim().is_empty() {
                patch.limits.push((kind, None));
                continue;
            }
            let Ok(amount) = amount.trim().parse::<i64>() else {
                draft
                    .errors
                    .push(name, "must be a whole number (empty: no limit)");
                continue;
            };
            let period = match form.text(&format!("limit_{}_type", kind.as_str())).as_str() {
                "" => None,
                p => match p.parse::<Period>() {
                    Ok(p) => Some(p),
                    Err(e) => {
                        draft
                            .errors
                            .push(format!("limit_{}_type", kind.as_str()), e);
                        continue;
                    }
                },
            };
            patch
                .limits
                .push((kind, Some(crate::domain::policy::Limit { amount, period })));
        }
        match form.text("abuse_ratio").trim() {
            "" => {}
            r => match r.parse::<i64>() {
                Ok(r) => patch.abuse_ratio = Some(r),
                Err(_) => draft
                    .errors
                    .push("abuse_ratio", "must be a whole percentage from 0 to 100"),
            },
        }
        for (name, slot) in [
            ("lists", &mut patch.lists),
            ("send_methods", &mut patch.send_methods),
        ] {
            match parse_ids(&form.text(name)) {
                Ok(ids) => *slot = Some(ids),
                Err(()) => draft.errors.push(name, "must be ids separated by commas"),
            }
        }
        draft.policy = patch;
    }
    draft
}

fn custom_input(f: &FieldDef, value: &str, problems: &Problems) -> Markup {
    let name = format!("custom_field_{}", f.id);
    let label = format!("{} (identifier {})", f.name, f.id);
    match f.kind {
        FieldKind::Dropdown => {
            let mut options = vec![(String::new(), "(none)".to_string())];
            options.extend(f.options.iter().map(|o| (o.clone(), o.clone())));
            page::select(&name, &label, &options, value, problems)
        }
        FieldKind::LongText => page::textarea(&name, &label, value, problems),
        FieldKind::Date => page::input(&name, &label, Kind::Date, value, problems, None),
        FieldKind::Number => page::input(&name, &label, Kind::Number, value, problems, None),
        FieldKind::Link => page::input(&name, &label, Kind::Url, value, problems, None),
        FieldKind::ShortText => page::input(&name, &label, Kind::Text, value, problems, None),
    }
}

fn group_form(
    user: &ConsoleUser,
    action: &str,
    v: &FormValues,
    categories: &[Category],
    fields: &[FieldDef],
    problems: &Problems,
    creating: bool,
) -> Markup {
    let category_options: Vec<(String, String)> = categories
        .iter()
        .map(|c| (c.id.to_string(), format!("{} ({})", c.name, c.id)))
        .collect();
    let periods: Vec<(String, String)> = std::iter::once((String::new(), "—".to_string()))
        .chain(
            Period::ALL
                .iter()
                .map(|p| (p.as_str().to_string(), p.as_str().to_string())),
        )
        .collect();
    let shown = [
        "name",
        "slug",
        "description",
        "category_id",
        "password",
        "icon_url",
        "icon_file",
        "abuse_ratio",
        "lists",
        "send_methods",
    ];
    html! {
        (problems.summary(&shown))
        form.card method="post" action=(action) enctype="multipart/form-data" novalidate {
            (page::csrf(user))
            input type="hidden" name="policy" value="1";
            (page::input("name", "Name", Kind::Text, &v.name, problems, None))
            (page::input("slug", "Slug", Kind::Text, &v.slug, problems,
                Some("Letters, digits and dashes; empty for none. Shares one namespace with usernames.")))
            (page::textarea("description", "Description", &v.description, problems))
            (page::select("category_id", "Category", &category_options, &v.category_id, problems))
            fieldset {
                legend { "Flags" }
                (page::checkbox("secret", "Secret: hidden from non-members", v.secret, problems))
                (page::checkbox("pinned", "Pinned: listed first", v.pinned, problems))
                (page::checkbox("unleavable", "Unleavable: members cannot leave", v.unleavable, problems))
            }
            fieldset {
                legend { "Password" }
                @if !creating {
                    label.check { input type="radio" name="password_action" value="keep" checked;
                        @if v.protected { "Keep the current password" } @else { "No password" } }
                }
                label.check { input type="radio" name="password_action" value="set" checked[creating && v.protected];
                    "Set a password" }
                @if creating {
                    label.check { input type="radio" name="password_action" value="none" checked[!v.protected]; "No password" }
                } @else if v.protected {
                    label.check { input type="radio" name="password_action" value="clear"; "Remove the password" }
                }
                div id="password-input" {
                    (page::input("password", "New password", Kind::Password, "", problems, None))
                }
            }
            fieldset {
                legend { "Icon" }
                @if let Some(path) = &v.icon_path {
                    img.preview src=(path) alt="Current icon";
                    (page::checkbox("icon_clear", "Remove the icon", false, problems))
                }
                img.preview id="icon-preview" hidden alt="Preview of the new icon";
                label for="f-icon_file" { "Upload an image" }
                p.hint id="f-icon_file-hint" { "PNG, JPEG, GIF, WebP, BMP or ICO; stored as a 200×200 PNG." }
                input type="file" id="f-icon_file" name="icon_file" accept="image/*" data-preview="icon-preview"
                    aria-describedby="f-icon_file-hint"
                    aria-invalid=[problems.field("icon_file").map(|_| "true")];
                @if let Some(e) = problems.field("icon_file") { p.error { (e) } }
                (page::input("icon_url", "…or fetch it from an address", Kind::Url, &v.icon_url, problems, None))
            }
            @if !fields.is_empty() {
                fieldset {
                    legend { "Custom fields" }
                    @for f in fields {
                        (custom_input(f, v.custom.iter().find(|(id, _)| *id == f.id).map_or("", |(_, s)| s.as_str()), problems))
                    }
                }
            }
            details {
                summary { "Permissions and limits (ActiveCampaign)" }
                fieldset {
                    legend { "Permissions" }
                    div.columns {
                        @for p in PERMISSIONS {
                            label.check {
                                input type="checkbox" name={"perm_" (p)} value="1" checked[v.permissions.iter().any(|x| x == p)];
                                code { (p) }
                            }
                        }
                    }
                }
                fieldset {
                    legend { "Limits (empty: no limit)" }
                    @for (kind, amount, period) in &v.limits {
                        (page::input(&format!("limit_{}", kind.as_str()), &format!("{} limit", kind.as_str()), Kind::Number, amount, problems, None))
                        @if kind.has_period() {
                            (page::select(&format!("limit_{}_type", kind.as_str()), &format!("{} limit per", kind.as_str()), &periods, period, problems))
                        }
                    }
                }
                (page::checkbox("unsubscribe_link", "Force unsubscribe links", v.unsubscribe_link, problems))
                (page::input("abuse_ratio", "Abuse ratio (%)", Kind::Number, &v.abuse_ratio, problems, None))
                (page::input("lists", "Lists (ids, comma-separated)", Kind::Text, &v.lists, problems, None))
                (page::input("send_methods", "Sending methods (ids, comma-separated)", Kind::Text, &v.send_methods, problems, None))
            }
            div.actions {
                button type="submit" { @if creating { "Create the group" } @else { "Save" } }
                a.button.secondary href=(if creating { "/console/groups".to_string() } else { action.to_string() }) { "Cancel" }
            }
        }
    }
}

async fn form_lists(
    service: &Service,
    user: &ConsoleUser,
) -> Result<(Vec<Category>, Vec<FieldDef>), ServiceError> {
    Ok((
        service.list_categories(user.caller).await?,
        service.list_fields(user.caller).await?,
    ))
}

/// `GET /console/groups/new`.
pub async fn new_form(
    State(service): State<Service>,
    Console(user): Console,
) -> Result<Response, Response> {
    let (categories, fields) = form_lists(&service, &user).await.or_page(&user)?;
    let body = group_form(
        &user,
        "/console/groups",
        &FormValues::empty(),
        &categories,
        &fields,
        &Problems::none(),
        true,
    );
    Ok(page::titled(
        &user,
        Section::Groups,
        "New group",
        false,
        body,
    ))
}

/// `POST /console/groups`.
pub async fn create(
    State(service): State<Service>,
    Console(user): Console,
    form: Posted,
) -> Result<Response, Response> {
    let (categories, fields) = form_lists(&service, &user).await.or_page(&user)?;
    let draft = draft_of(&form, &fields);
    Ok(match service.create_group(user.caller, draft).await {
        Ok(g) => {
            Redirect::to(&format!("/console/groups/{}?done=group-created", g.id.0)).into_response()
        }
        Err(e) => match Problems::of(&e) {
            Some(problems) => {
                let mut v = FormValues::posted(&form, None);
                v.protected = form.get("password_action") == Some("set");
                let body = group_form(
                    &user,
                    "/console/groups",
                    &v,
                    &categories,
                    &fields,
                    &problems,
                    true,
                );
                page::titled(&user, Section::Groups, "New group", true, body)
            }
            None => page::service_failure(&user, &e),
        },
    })
}

/// `GET /console/groups/{id}/edit`.
pub async fn edit_form(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let g = service.get_group(user.caller, &id).await.or_page(&user)?;
    let (categories, fields) = form_lists(&service, &user).await.or_page(&user)?;
    let action = format!("/console/groups/{}", g.id.0);
    let body = group_form(
        &user,
        &action,
        &FormValues::of(&g),
        &categories,
        &fields,
        &Problems::none(),
        false,
    );
    let title = format!("Edit {}", g.name);
    Ok(page::titled(&user, Section::Groups, &title, false, body))
}

/// `POST /console/groups/{id}`: saves the edit form.
pub async fn update(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let g = service.get_group(user.caller, &id).await.or_page(&user)?;
    let (categories, fields) = form_lists(&service, &user).await.or_page(&user)?;
    let draft = draft_of(&form, &fields);
    Ok(
        match service
            .update_group(user.caller, &g.id.0.to_string(), draft)
            .await
        {
            Ok(id) => {
                Redirect::to(&format!("/console/groups/{}?done=group-saved", id.0)).into_response()
            }
            Err(e) => match Problems::of(&e) {
                Some(problems) => {
                    let action = format!("/console/groups/{}", g.id.0);
                    let v = FormValues::posted(&form, Some(&g));
                    let body =
                        group_form(&user, &action, &v, &categories, &fields, &problems, false);
                    let title = format!("Edit {}", g.name);
                    page::titled(&user, Section::Groups, &title, true, body)
                }
                None => page::service_failure(&user, &e),
            },
        },
    )
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    after: Option<i64>,
    done: Option<String>,
}

/// A group's page: its values, members and recent events; `problems` and
/// `pasted` refill the add-members form after a refusal.
async fn group_page(
    service: &Service,
    user: &ConsoleUser,
    id: &str,
    after: Option<i64>,
    done: Option<&str>,
    problems: &Problems,
    pasted: &str,
) -> Result<(Group, Markup), ServiceError> {
    let g = service.get_group(user.caller, id).await?;
    let (categories, fields) = form_lists(service, user).await?;
    let members: Vec<Membership> = service
        .list_members(user.caller, &g.id.0.to_string(), after.map(UserId), PAGE)
        .await?;
    let events: Vec<Event> = service
        .list_events(
            user.caller,
            EventQuery {
                limit: 20,
                group: Some(g.id.0),
                newest_first: true,
                ..Default::default()
            },
        )
        .await?;
    let next = (members.len() == PAGE as usize)
        .then(|| members.last())
        .flatten()
        .map(|m| format!("/console/groups/{}?after={}#members", g.id.0, m.user.id.0));
    let roles: Vec<(String, String)> = [GroupRole::Member, GroupRole::Moderator, GroupRole::Admin]
        .iter()
        .map(|r| (r.as_str().to_string(), r.as_str().to_string()))
        .collect();
    let base = format!("/console/groups/{}", g.id.0);
    let markup = html! {
        h1 { img.icon src=(g.icon_path()) alt=""; " " (g.name) }
        (page::done_notice(done))
        div.actions {
            a.button href={(base) "/edit"} { "Edit" }
            a.button.secondary href={"/console/events?group=" (g.id.0)} { "All its events" }
        }
        div.card {
            dl {
                dt { "Id" } dd { (g.id.0) }
                dt { "Slug" } dd { @if let Some(s) = &g.slug { code { (s) } } @else { span.muted { "none" } } }
                dt { "Description" } dd { (g.description) }
                dt { "Category" } dd { (category_name(&categories, g.category_id)) " (" (g.category_id) ")" }
                dt { "Flags" } dd { (flags(&g)) }
                dt { "Members" } dd { (g.member_count)
                    @if let Some(limit) = g.policy.member_limit() { " of at most " (limit) } }
                @for f in &fields {
                    @if let Some(v) = g.custom_fields.get(&f.id) {
                        dt { (f.name) " " code { "custom_field_" (f.id) } } dd { (v) }
                    }
                }
                dt { "Created" } dd { (page::when(g.created_at)) }
                dt { "Updated" } dd { (page::when(g.updated_at)) }
            }
        }
        h2 id="members" { "Members" }
        form.card method="post" action={(base) "/members"} {
            (page::csrf(user))
            (problems.summary(&["users"]))
            label for="f-users" { "Add members" }
            p.hint id="f-users-hint" { "Usernames, email addresses or user ids, one per line or separated by commas; up to "
                (PASTE_MAX) " at once. All are added, or none." }
            textarea id="f-users" name="users" aria-describedby="f-users-hint"
                aria-invalid=[problems.field("users").map(|_| "true")] { (pasted) }
            @if let Some(e) = problems.field("users") { p.error { (e) } }
            (page::select("role", "Role", &roles, "member", problems))
            div.actions { button type="submit" { "Add" } }
        }
        @if members.is_empty() {
            p { "No members" @if after.is_some() { " on this page" } "." }
        } @else {
            div.table-wrap id="member-table" {
                table {
                    thead { tr { th { "User" } th { "Email" } th { "Role" } th { "Joined" } th { "Remove" } } }
                    tbody {
                        @for m in &members {
                            tr {
                                td { a href={"/console/users/" (m.user.id.0)} { (m.user.username) } " " span.muted { (m.user.full_name) } }
                                td { (m.user.email) }
                                td {
                                    form.inline method="post" action={(base) "/members/" (m.user.id.0)} {
                                        (page::csrf(user))
                                        input type="hidden" name="action" value="role";
                                        label.skip for={"role-" (m.user.id.0)} { "Role of " (m.user.username) }
                                        select id={"role-" (m.user.id.0)} name="role" {
                                            @for (r, t) in &roles { option value=(r) selected[r == m.role.as_str()] { (t) } }
                                        }
                                        " " button.secondary type="submit" { "Change" }
                                    }
                                }
                                td { (page::when(m.joined_at)) }
                                td {
                                    form.inline method="post" action={(base) "/members/" (m.user.id.0)}
                                        data-confirm={"Remove " (m.user.username) " from " (g.name) "?"} {
                                        (page::csrf(user))
                                        input type="hidden" name="action" value="remove";
                                        button.danger type="submit" aria-label={"Remove " (m.user.username)} { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (page::pager("Member pages", after.is_some().then_some(format!("{base}#members")).as_deref(), next.as_deref(), false))
        h2 { "Recent events" }
        (super::webhooks::event_table(&events))
        @if g.builtin.is_none() {
            h2 { "Delete" }
            form.card method="post" action={(base) "/delete"}
                data-confirm={"Delete " (g.name) "? This cannot be undone."} {
                (page::csrf(user))
                (page::input("successor", "Move its members to (group id or slug, optional)", Kind::Text, "", problems, None))
                div.actions { button.danger type="submit" { "Delete the group" } }
            }
        }
    };
    Ok((g, markup))
}

/// `GET /console/groups/{id}`.
pub async fn show(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    match group_page(
        &service,
        &user,
        &id,
        q.after,
        q.done.as_deref(),
        &Problems::none(),
        "",
    )
    .await
    {
        Ok((g, markup)) => page::ok(&user, Section::Groups, &g.name, markup),
        Err(e) => page::service_failure(&user, &e),
    }
}

/// The references pasted into the add-members box.
fn pasted_users(raw: &str) -> Vec<String> {
    raw.split([',', '\n', '\r', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `POST /console/groups/{id}/members`: adds the pasted users, all or none.
pub async fn add_members(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    form: Posted,
) -> Response {
    let users = pasted_users(&form.text("users"));
    let role = match GroupRole::parse(&form.text("role")) {
        Ok(r) => r,
        Err(m) => return refused_members(&service, &user, &id, "role", &m, &form).await,
    };
    if users.is_empty() {
        return refused_members(
            &service,
            &user,
            &id,
            "users",
            "Name at least one user.",
            &form,
        )
        .await;
    }
    match service
        .bulk_add_members(user.caller, &id, &users, Some(role))
        .await
    {
        Ok(_) => Redirect::to(&format!("/console/groups/{id}?done=members-added#members"))
            .into_response(),
        Err(e) => match Problems::of(&e) {
            Some(mut problems) => {
                if let ServiceError::Invalid(_) = e {
                    // Which pasted line named no user.
                    let mut named = Problems::none();
                    let mut errors = crate::domain::ValidationErrors::new();
                    let unknown: Vec<String> = problems_messages(&e);
                    if !unknown.is_empty() {
                        errors.push("users", unknown.join("; "));
                        named.add_validation(&errors);
                        problems = named;
                    }
                }
                group_page_again(&service, &user, &id, &problems, &form.text("users")).await
            }
            None => page::service_failure(&user, &e),
        },
    }
}

fn problems_messages(e: &ServiceError) -> Vec<String> {
    match e {
        ServiceError::Invalid(errors) => {
            errors.fields().iter().map(|f| f.message.clone()).collect()
        }
        _ => Vec::new(),
    }
}

async fn refused_members(
    service: &Service,
    user: &ConsoleUser,
    id: &str,
    field: &str,
    message: &str,
    form: &Posted,
) -> Response {
    let mut problems = Problems::none();
    problems.add_validation(&crate::domain::ValidationErrors::single(field, message));
    group_page_again(service, user, id, &problems, &form.text("users")).await
}

/// The group's page again, 422, with what its forms got wrong (and the pasted
/// members kept).
async fn group_page_again(
    service: &Service,
    user: &ConsoleUser,
    id: &str,
    problems: &Problems,
    pasted: &str,
) -> Response {
    match group_page(service, user, id, None, None, problems, pasted).await {
        Ok((g, markup)) => page::invalid(user, Section::Groups, &g.name, markup),
        Err(e) => page::service_failure(user, &e),
    }
}

/// `POST /console/groups/{id}/members/{user}`: `action=role` with `role`, or
/// `action=remove`.
pub async fn change_member(
    State(service): State<Service>,
    Console(user): Console,
    Path((id, member)): Path<(String, String)>,
    form: Posted,
) -> Response {
    let result = match form.get("action") {
        Some("remove") => service
            .remove_member(user.caller, &id, &member)
            .await
            .map(|_| "member-removed"),
        Some("role") => match GroupRole::parse(&form.text("role")) {
            Ok(role) => service
                .add_member(user.caller, &id, &member, Some(role))
                .await
                .map(|_| "role-changed"),
            Err(m) => Err(ServiceError::Invalid(
                crate::domain::ValidationErrors::single("role", m),
            )),
        },
        _ => Err(ServiceError::Invalid(
            crate::domain::ValidationErrors::single("action", "must be role or remove"),
        )),
    };
    match result {
        Ok(done) => {
            Redirect::to(&format!("/console/groups/{id}?done={done}#members")).into_response()
        }
        Err(e) => page::service_failure(&user, &e),
    }
}

/// `POST /console/groups/{id}/delete`, with an optional `successor`.
pub async fn delete(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    form: Posted,
) -> Result<Response, Response> {
    let g = service.get_group(user.caller, &id).await.or_page(&user)?;
    let successor = match form.text("successor").trim() {
        "" => None,
        s => match service.get_group(user.caller, s).await {
            Ok(alt) => Some(alt.id),
            Err(ServiceError::GroupNotFound | ServiceError::Invalid(_)) => {
                let mut problems = Problems::none();
                problems.add_validation(&crate::domain::ValidationErrors::single(
                    "successor",
                    format!("no group '{s}' in this workspace"),
                ));
                return Ok(group_page_again(&service, &user, &id, &problems, "").await);
            }
            Err(e) => return Err(page::service_failure(&user, &e)),
        },
    };
    match service.delete_groups(user.caller, &[g.id], successor).await {
        Ok(()) => Ok(Redirect::to("/console/groups?done=group-deleted").into_response()),
        Err(e) => {
            let problems = Problems::of(&e).ok_or_else(|| page::service_failure(&user, &e))?;
            Ok(group_page_again(&service, &user, &id, &problems, "").await)
        }
    }
}

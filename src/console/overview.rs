//! The overview: the workspace's totals, and each dialect's endpoint on this
//! server with a ready-to-paste curl command and PHP snippet (the documents'
//! examples, with this server's address filled in).

use super::Console;
use super::page::{self, OrPage, Section};
use crate::service::Service;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use maud::html;

/// This server's address as the browser reached it (a proxy's `X-Forwarded-*`
/// headers when present).
pub fn base_url(headers: &HeaderMap) -> String {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let scheme = match get("x-forwarded-proto").as_deref() {
        Some("https") => "https",
        _ => "http",
    };
    let host = get("x-forwarded-host")
        .or_else(|| get(header::HOST.as_str()))
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or_else(|| "localhost".to_string());
    format!("{scheme}://{host}")
}

fn grupo_php(base: &str) -> String {
    format!(
        r#"<?php
$grupo_web_address = '{base}';

$post_fields = [
  'api_secret_key' => 'YOUR_API_KEY',
  'add' => 'groups',
  'group_name' => 'Group Name',
  'description' => 'Group Description',
  'group_category_id' => '1',
  'secret_group' => 'no',
  'pin_group' => 'no',
];

$curl = curl_init();
curl_setopt_array($curl, array(
  CURLOPT_URL => rtrim($grupo_web_address, '/').'/api_request/',
  CURLOPT_RETURNTRANSFER => true,
  CURLOPT_CUSTOMREQUEST => 'POST',
  CURLOPT_POSTFIELDS => $post_fields,
));
$response = json_decode(curl_exec($curl));
curl_close($curl);
echo $response->success ? "Group Created Successfully." : $response->error_message;
"#
    )
}

fn activecampaign_php(base: &str) -> String {
    format!(
        r#"<?php
$url = '{base}';
$api_key = 'YOUR_API_KEY';

$query = http_build_query(array(
  'api_action' => 'group_add',
  'api_output' => 'serialize',
));
$data = http_build_query(array(
  'title' => 'Group Title',
  'descript' => 'Group Description',
  'pg_message_send' => '1',
  'abuseratio' => 4,
));

$request = curl_init($url . '/admin/api.php?' . $query);
curl_setopt($request, CURLOPT_HTTPHEADER, array('API-TOKEN: ' . $api_key));
curl_setopt($request, CURLOPT_RETURNTRANSFER, 1);
curl_setopt($request, CURLOPT_POSTFIELDS, $data);
$result = unserialize((string)curl_exec($request));
curl_close($request);
echo $result['result_message'];
"#
    )
}

/// `GET /console/`.
pub async fn show(
    State(service): State<Service>,
    Console(user): Console,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let counts = service.workspace_counts(user.caller).await.or_page(&user)?;
    let base = base_url(&headers);
    let grupo_curl = format!(
        "curl -X POST '{base}/api_request/' \\\n  -d api_secret_key=YOUR_API_KEY -d add=groups \\\n  -d group_name='Group Name' -d description='Group Description'"
    );
    let ac_curl = format!(
        "curl -X POST '{base}/admin/api.php?api_action=group_add&api_output=json' \\\n  -H 'API-TOKEN: YOUR_API_KEY' \\\n  -d title='Group Title' -d descript='Group Description' -d pg_message_send=1"
    );
    let rest_curl = format!(
        "curl -X POST '{base}/api/v1/groups' \\\n  -H 'Authorization: Bearer YOUR_API_KEY' -H 'Content-Type: application/json' \\\n  -d '{{\"name\": \"Group Name\", \"description\": \"Group Description\"}}'"
    );
    let stats = [
        ("Groups", counts.groups, "/console/groups"),
        ("Users", counts.users, "/console/users"),
        ("Active API keys", counts.active_keys, "/console/keys"),
        ("Webhook endpoints", counts.webhooks, "/console/webhooks"),
    ];
    let dialects = [
        (
            "grupo",
            "Grupo",
            format!("POST {base}/api_request/"),
            "The API secret key goes in the api_secret_key field.",
            grupo_curl,
            Some(grupo_php(&base)),
        ),
        (
            "activecampaign",
            "ActiveCampaign v1",
            format!("{base}/admin/api.php?api_action=group_add"),
            "The key goes in the API-TOKEN header (or api_key); answers in xml, json or serialize.",
            ac_curl,
            Some(activecampaign_php(&base)),
        ),
        (
            "rest",
            "REST",
            format!("{base}/api/v1"),
            "The key goes in Authorization: Bearer. The OpenAPI document is at /api/v1/openapi.json.",
            rest_curl,
            None,
        ),
    ];
    Ok(page::ok(
        &user,
        Section::Overview,
        "Overview",
        html! {
            h1 { "Overview" }
            div.grid {
                @for (label, n, href) in stats {
                    a.stat href=(href) { b { (n) } (label) }
                }
            }
            h2 { "Connecting clients" }
            p { "Clients written for each dialect's documents work unchanged, given this server's address and an API key of this workspace ("
                a href="/console/keys" { "API keys" } "). Custom field identifiers are on "
                a href="/console/schema" { "Categories & fields" } "." }
            @for (id, name, endpoint, how, curl, php) in &dialects {
                section.card aria-labelledby={"d-" (id)} {
                    h3 id={"d-" (id)} { (name) }
                    p { "Endpoint: " code { (endpoint) } }
                    p.hint { (how) }
                    div.actions { strong { "curl" } button.secondary type="button" data-copy={"curl-" (id)} hidden { "Copy" } }
                    pre id={"curl-" (id)} { (curl) }
                    @if let Some(php) = php {
                        div.actions { strong { "PHP" } button.secondary type="button" data-copy={"php-" (id)} hidden { "Copy" } }
                        pre id={"php-" (id)} { (php) }
                    }
                }
            }
        },
    ))
}

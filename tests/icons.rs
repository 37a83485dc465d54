//! Group icons: fetched, checked, cropped to 200x200, served; private targets refused.

mod common;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use common::{TestApp, groupd_ok, spawn_app, spawn_app_with};
use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A small image server on 127.0.0.1 that counts every request it gets.
struct IconServer {
    base: String,
    hits: Arc<AtomicUsize>,
}

/// The `icon_url` the REST API gives for a group.
async fn icon_url(app: &TestApp, id: i64) -> String {
    let (s, g) = app.rest("GET", &format!("/api/v1/groups/{id}"), None).await;
    assert_eq!(s, 200, "{g}");
    g["icon_url"].as_str().expect("icon_url").to_string()
}

/// GET without any key.
async fn get_keyless(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url(path))
        .send()
        .await
        .unwrap()
}

fn is_token_path(path: &str) -> bool {
    path.strip_prefix("/icons/")
        .and_then(|f| f.strip_suffix(".png"))
        .is_some_and(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn square_png(color: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(50, 50, image::Rgb(color));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn wide_png() -> Vec<u8> {
    // 400x300: red left half, blue right half.
    let img = image::RgbImage::from_fn(400, 300, |x, _| {
        if x < 200 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A decompression bomb: a ~200 KB PNG whose header declares 10000x10000 16-bit grey
/// pixels (200 MB decoded), every one of them zero.
fn bomb_png() -> Vec<u8> {
    zeros_png(10_000, 10_000, 0, 16)
}

/// A PNG of `width` x `height` zero pixels of a colour type and bit depth, written by
/// hand so that any size can be declared cheaply.
fn zeros_png(width: u32, height: u32, color_type: u8, bit_depth: u8) -> Vec<u8> {
    use std::io::Write;
    let channels = match color_type {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        other => panic!("colour type {other}"),
    };
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Each row: filter type 0, then the samples.
    let row = vec![0u8; 1 + (width as usize * channels * bit_depth as usize).div_ceil(8)];
    for _ in 0..height {
        z.write_all(&row).unwrap();
    }
    let idat = z.finish().unwrap();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

async fn start_icon_server() -> IconServer {
    let hits = Arc::new(AtomicUsize::new(0));
    let bomb = bytes::Bytes::from(bomb_png());
    // The largest canvas accepted (16 Mi pixels, 8-bit RGBA: 64 MiB decoded).
    let largest = bytes::Bytes::from(zeros_png(4096, 4096, 6, 8));
    let app = Router::new()
        .route(
            "/largest.png",
            get(move || async move { ([(header::CONTENT_TYPE, "image/png")], largest.clone()) }),
        )
        .route(
            "/bomb.png",
            get(move || async move { ([(header::CONTENT_TYPE, "image/png")], bomb.clone()) }),
        )
        .route(
            "/wide.png",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], wide_png()) }),
        )
        .route(
            "/green.png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    square_png([0, 255, 0]),
                )
            }),
        )
        .route("/text", get(|| async { "this is not an image" }))
        .route(
            "/lying.png",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], "<html>nope</html>") }),
        )
        .route(
            "/big.png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![0u8; 6 * 1024 * 1024],
                )
            }),
        )
        .route("/missing.png", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow.png",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(4)).await;
                ([(header::CONTENT_TYPE, "image/png")], wide_png())
            }),
        )
        .route("/redirect/{n}", get(redirect))
        .layer(axum::middleware::from_fn_with_state(hits.clone(), count))
        .with_state(());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    IconServer { base, hits }
}

async fn count(
    State(hits): State<Arc<AtomicUsize>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    next.run(req).await
}

async fn redirect(Path(n): Path<u32>) -> Response {
    if n == 0 {
        Redirect::temporary("/wide.png").into_response()
    } else {
        Redirect::temporary(&format!("/redirect/{}", n - 1)).into_response()
    }
}

#[tokio::test]
async fn an_icon_is_fetched_cropped_to_200_square_and_served() {
    let icons = start_icon_server().await;
    let app = spawn_app().await;
    let url = format!("{}/wide.png", icons.base);
    let id = app
        .create_group(&[("group_name", "Pictured"), ("group_icon_url", &url)])
        .await;
    assert_eq!(app.show_group(&id.to_string())["has_icon"], true);
    let path = icon_url(&app, id).await;
    assert!(is_token_path(&path), "{path}");
    // The URL the API gives works without a key, and may be cached for good.
    let r = get_keyless(&app, &path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let bytes = r.bytes().await.unwrap();
    let img = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (200, 200));
    // The centred 300x300 square of a red|blue 400x300 image: red left, blue right.
    assert_eq!(img.get_pixel(40, 100).0, [255, 0, 0, 255]);
    assert_eq!(img.get_pixel(160, 100).0, [0, 0, 255, 255]);
}

#[tokio::test]
async fn up_to_five_redirects_are_followed() {
    let icons = start_icon_server().await;
    let app = spawn_app().await;
    let five = format!("{}/redirect/4", icons.base);
    let id = app
        .create_group(&[("group_name", "Five"), ("group_icon_url", &five)])
        .await;
    assert_eq!(app.show_group(&id.to_string())["has_icon"], true);
    let six = format!("{}/redirect/5", icons.base);
    let id = app
        .create_group(&[("group_name", "Six"), ("group_icon_url", &six)])
        .await;
    assert_eq!(app.show_group(&id.to_string())["has_icon"], false);
}

#[tokio::test]
async fn failed_fetches_never_fail_the_creation() {
    let icons = start_icon_server().await;
    let app = spawn_app().await;
    for path in ["/text", "/lying.png", "/big.png", "/missing.png"] {
        let url = format!("{}{path}", icons.base);
        let id = app
            .create_group(&[("group_name", path), ("group_icon_url", &url)])
            .await;
        assert_eq!(app.show_group(&id.to_string())["has_icon"], false, "{path}");
        let url = icon_url(&app, id).await;
        assert_eq!(url, "/icons/default.svg");
        let r = get_keyless(&app, &url).await;
        assert_eq!(r.headers()["content-type"], "image/svg+xml");
        assert!(r.text().await.unwrap().starts_with("<svg"));
    }
    // Nothing listens here.
    let id = app
        .create_group(&[
            ("group_name", "Unreachable"),
            ("group_icon_url", "http://127.0.0.1:1/x.png"),
        ])
        .await;
    assert_eq!(app.show_group(&id.to_string())["has_icon"], false);
}

#[tokio::test]
async fn a_slow_icon_times_out_and_the_group_is_still_made() {
    let icons = start_icon_server().await;
    let app = spawn_app_with(&["--icon-allow-private", "--icon-timeout-secs", "1"]).await;
    let url = format!("{}/slow.png", icons.base);
    let id = app
        .create_group(&[("group_name", "Slow"), ("group_icon_url", &url)])
        .await;
    assert_eq!(app.show_group(&id.to_string())["has_icon"], false);
}

#[tokio::test]
async fn private_addresses_are_not_fetched_without_the_option() {
    let icons = start_icon_server().await;
    let app = spawn_app_with(&[]).await;
    let port = icons.base.rsplit(':').next().unwrap().to_string();
    for url in [
        format!("{}/wide.png", icons.base),
        format!("http://localhost:{port}/wide.png"),
        format!("http://[::ffff:127.0.0.1]:{port}/wide.png"),
        format!("http://0x7f000001:{port}/wide.png"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://10.0.0.1:{port}/wide.png"),
    ] {
        let id = app
            .create_group(&[("group_name", "Blocked"), ("group_icon_url", &url)])
            .await;
        assert_eq!(app.show_group(&id.to_string())["has_icon"], false, "{url}");
    }
    assert_eq!(
        icons.hits.load(Ordering::SeqCst),
        0,
        "a private URL was fetched"
    );
}

#[tokio::test]
async fn update_sets_and_clears_the_icon() {
    let icons = start_icon_server().await;
    let app = spawn_app().await;
    let id = app
        .create_group(&[("group_name", "Later")])
        .await
        .to_string();
    assert_eq!(app.show_group(&id)["has_icon"], false);
    let url = format!("{}/wide.png", icons.base);
    app.grupo(&[
        ("update", "groups"),
        ("group", &id),
        ("group_icon_url", &url),
    ])
    .await;
    assert_eq!(app.show_group(&id)["has_icon"], true);
    // Another update without the field keeps it.
    app.grupo(&[
        ("update", "groups"),
        ("group", &id),
        ("group_name", "Renamed"),
    ])
    .await;
    assert_eq!(app.show_group(&id)["has_icon"], true);
    app.grupo(&[("update", "groups"), ("group", &id), ("group_icon_url", "")])
        .await;
    assert_eq!(app.show_group(&id)["has_icon"], false);
}

#[tokio::test]
async fn strangers_cannot_fetch_icons_by_group_id() {
    let icons = start_icon_server().await;
    let app = spawn_app().await;
    let url = format!("{}/wide.png", icons.base);
    let id = app
        .create_group(&[("group_name", "Private"), ("group_icon_url", &url)])
        .await;
    let public = icon_url(&app, id).await;
    // Without a key (or with a wrong one) every id gets the same answer, so nothing
    // tells which groups exist.
    let unauthorized =
        r#"{"error":{"key":"invalid_api_secret_key","message":"Invalid API Secret Key"}}"#;
    for path in [
        format!("/groups/{id}/icon"),
        "/groups/1/icon".to_string(),
        "/groups/999/icon".to_string(),
        "/groups/abc/icon".to_string(),
    ] {
        let r = get_keyless(&app, &path).await;
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.text().await.unwrap(), unauthorized, "{path}");
        let r = app
            .client
            .get(app.url(&path))
            .bearer_auth("gd_nope_0000000000000000000000000000")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    // Another workspace's key does not find the group either.
    let other = groupd_ok(&app.dir, &["workspace", "create", "other"])
        .trim()
        .to_string();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(app.url(&format!("/groups/{id}/icon")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"error":{"key":"group_not_found","message":"Group Not Found"}}"#
    );
    // The group's own workspace is sent on to the public URL.
    let r = no_redirect
        .get(app.url(&format!("/groups/{id}/icon")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], public.as_str());
    let plain = app.create_group(&[("group_name", "Plain")]).await;
    let r = no_redirect
        .get(app.url(&format!("/groups/{plain}/icon")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/icons/default.svg");
}

#[tokio::test]
async fn the_icon_url_changes_when_the_icon_does() {
    let icons = start_icon_server().await;
    let app = spawn_app().await;
    let wide = format!("{}/wide.png", icons.base);
    let id = app
        .create_group(&[("group_name", "Changing"), ("group_icon_url", &wide)])
        .await;
    let first = icon_url(&app, id).await;
    // An update without the field keeps the URL.
    app.grupo(&[
        ("update", "groups"),
        ("group", &id.to_string()),
        ("group_name", "Renamed"),
    ])
    .await;
    assert_eq!(icon_url(&app, id).await, first);
    // A new icon, a new URL; the old one is gone.
    let green = format!("{}/green.png", icons.base);
    app.grupo(&[
        ("update", "groups"),
        ("group", &id.to_string()),
        ("group_icon_url", &green),
    ])
    .await;
    let second = icon_url(&app, id).await;
    assert!(is_token_path(&second), "{second}");
    assert_ne!(second, first);
    assert_eq!(get_keyless(&app, &first).await.status(), 404);
    let r = get_keyless(&app, &second).await;
    assert_eq!(r.status(), 200);
    let img = image::load_from_memory(&r.bytes().await.unwrap())
        .unwrap()
        .to_rgba8();
    assert_eq!(img.get_pixel(100, 100).0, [0, 255, 0, 255]);
    // Even the same image again gets a new URL (each fetch is a new icon).
    app.grupo(&[
        ("update", "groups"),
        ("group", &id.to_string()),
        ("group_icon_url", &green),
    ])
    .await;
    let third = icon_url(&app, id).await;
    assert_ne!(third, second);
    // Cleared: the default icon, and the last URL is gone.
    app.grupo(&[
        ("update", "groups"),
        ("group", &id.to_string()),
        ("group_icon_url", ""),
    ])
    .await;
    assert_eq!(icon_url(&app, id).await, "/icons/default.svg");
    assert_eq!(get_keyless(&app, &third).await.status(), 404);
}

#[tokio::test]
async fn unknown_icon_urls_are_404() {
    let app = spawn_app().await;
    for path in [
        "/icons/0123456789abcdef0123456789abcdef.png",
        "/icons/0123456789ABCDEF0123456789ABCDEF.png",
        "/icons/4.png",
        "/icons/4",
        "/icons/0123456789abcdef0123456789abcdef",
    ] {
        let r = get_keyless(&app, path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"error":{"key":"not_found","message":"No such icon"}}"#,
            "{path}"
        );
    }
    let r = get_keyless(&app, "/icons/default.svg").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
}

/// Warms `app` up with one ordinary icon, then creates `n` groups at once whose
/// icon is `file` from `icons`, and checks the peak RSS stays under 150 MB.
/// Returns the new groups' ids.
async fn icons_at_once(
    app: &common::TestApp,
    icons: &IconServer,
    file: &str,
    n: usize,
) -> Vec<i64> {
    let url = format!("{}/wide.png", icons.base);
    app.create_group(&[("group_name", "Warm"), ("group_icon_url", &url)])
        .await;
    let idle = app.memory_kib("VmHWM");
    let url = format!("{}/{file}", icons.base);
    let creates = (0..n).map(|i| {
        let name = format!("{file} {i}");
        let url = &url;
        async move {
            app.create_group(&[("group_name", &name), ("group_icon_url", url)])
                .await
        }
    });
    let ids = futures_util::future::join_all(creates).await;
    let peak = app.memory_kib("VmHWM");
    eprintln!("peak RSS: {idle} KiB idle, {peak} KiB after {n} x {file} at once");
    assert!(
        peak < 150 * 1024,
        "peak RSS reached {peak} KiB (idle {idle} KiB)"
    );
    ids
}

#[tokio::test]
async fn decompression_bombs_are_refused_from_their_header() {
    let icons = start_icon_server().await;
    let app = spawn_app().await;
    let ids = icons_at_once(&app, &icons, "bomb.png", 8).await;
    // Creation does not fail because the icon could not be had (spec NOTES.md): each
    // group is made, with the default icon.
    for id in ids {
        assert_eq!(app.show_group(&id.to_string())["has_icon"], false);
    }
}

#[tokio::test]
async fn the_largest_icons_accepted_are_decoded_one_at_a_time() {
    let icons = start_icon_server().await;
    // Unoptimised test builds take seconds per decode; the waiting ones must not
    // give up before their turn. Four at once would take over 300 MB if they were
    // decoded together.
    let app = spawn_app_with(&["--icon-allow-private", "--icon-timeout-secs", "60"]).await;
    let ids = icons_at_once(&app, &icons, "largest.png", 4).await;
    for id in ids {
        assert_eq!(app.show_group(&id.to_string())["has_icon"], true);
    }
}

//! Group icons: fetched from the URL a client gives, checked to really be an image,
//! cropped to a centred square and scaled to 200x200 PNG.
//!
//! The fetch must not become a way into private networks. Every address a host name
//! resolves to is checked, and the connection is made only to checked addresses (so
//! a second DNS answer cannot swap in a private one); literal IP addresses in the URL
//! and in every redirect are checked too; proxies from the environment are ignored.
//! Loopback, private, link-local, shared (CGNAT), multicast, documentation and other
//! special-purpose ranges are refused unless `allow_private` is set.

use crate::store::IconImage;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

pub const ICON_SIZE: u32 = 200;
pub const MAX_REDIRECTS: usize = 5;
/// The longest side a source image may declare. Icons are shown at 200x200; this still
/// leaves room for wide banners and photos straight from a camera.
pub const MAX_SOURCE_SIDE: u32 = 8_192;
/// The most pixels a source image may declare (16 Mi, a 4096x4096 square). Checked
/// from the header, before anything is decoded: a small compressed file can declare a
/// canvas of gigabytes.
pub const MAX_SOURCE_PIXELS: u64 = 16 * 1024 * 1024;
/// The most memory a decoder may allocate for one image.
pub const MAX_DECODE_ALLOC: u64 = 64 * 1024 * 1024;
/// How many icons are decoded at once; the others wait. With [`MAX_DECODE_ALLOC`] this
/// bounds the memory icons can take however many arrive together.
pub const MAX_CONCURRENT_DECODES: usize = 2;

/// The shape of the default icon, served for groups without one.
pub const DEFAULT_ICON_SVG: &str = concat!(
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"200\" viewBox=\"0 0 200 200\">",
    "<rect width=\"200\" height=\"200\" rx=\"24\" fill=\"#dfe4ea\"/>",
    "<circle cx=\"72\" cy=\"84\" r=\"22\" fill=\"#8395a7\"/>",
    "<circle cx=\"128\" cy=\"84\" r=\"22\" fill=\"#8395a7\"/>",
    "<path d=\"M32 156c0-26 18-42 40-42s40 16 40 42zM88 156c0-26 18-42 40-42s40 16 40 42z\" fill=\"#8395a7\"/>",
    "</svg>"
);

/// How icons may be fetched.
#[derive(Debug, Clone)]
pub struct IconPolicy {
    /// Allow loopback, private and link-local targets (for tests and closed networks).
    pub allow_private: bool,
    /// Whole-fetch time limit.
    pub timeout: Duration,
    /// Largest download accepted, in bytes.
    pub max_bytes: usize,
}

impl Default for IconPolicy {
    fn default() -> Self {
        IconPolicy {
            allow_private: false,
            timeout: Duration::from_secs(10),
            max_bytes: 5 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IconError {
    #[error("the address {0} is not allowed (loopback, private or link-local)")]
    Blocked(String),
    #[error("fetch failed: {0}")]
    Fetch(String),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the image is larger than {0} bytes")]
    TooLarge(usize),
    #[error("not an image: {0}")]
    NotAnImage(String),
    #[error(
        "the image declares {width}x{height} pixels; at most {MAX_SOURCE_SIDE} a side and {MAX_SOURCE_PIXELS} in all are accepted"
    )]
    TooManyPixels { width: u32, height: u32 },
}

/// Fetches and prepares icons. Cheap to clone.
#[derive(Clone)]
pub struct IconFetcher {
    client: reqwest::Client,
    policy: Arc<IconPolicy>,
    decodes: Arc<tokio::sync::Semaphore>,
}

/// Whether an address may be fetched from when private targets are not allowed.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared address space
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
        return false;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) embed an IPv4 address.
    if s[..6] == [0, 0, 0, 0, 0, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return is_public_v4(v4);
    }
    !((s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
}

/// Refuses a URL whose host is a literal IP address in a blocked range.
fn check_literal_host(url: &Url, allow_private: bool) -> Result<(), IconError> {
    if allow_private {
        return Ok(());
    }
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(IconError::Blocked(ip.to_string()))
    }
}

/// A resolver that drops every blocked address from the answer.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(std::io::Error::other(format!(
                        "{host} resolves only to addresses that are not allowed"
                    )));
                return Err(err);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

impl IconFetcher {
    pub fn new(policy: IconPolicy) -> Result<IconFetcher, String> {
        let allow = policy.allow_private;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            if !matches!(attempt.url().scheme(), "http" | "https") {
                return attempt.error("redirect to a scheme other than http or https");
            }
            match check_literal_host(attempt.url(), allow) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e.to_string()),
            }
        });
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(redirects)
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: allow,
            }))
            .connect_timeout(policy.timeout.min(Duration::from_secs(5)))
            .timeout(policy.timeout)
            .user_agent(concat!(
                "groupd/",
                env!("CARGO_PKG_VERSION"),
                " (group icon fetcher)"
            ))
            .build()
            .map_err(|e| format!("cannot build the icon HTTP client: {e}"))?;
        Ok(IconFetcher {
            client,
            policy: Arc::new(policy),
            decodes: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_DECODES)),
        })
    }

    /// Downloads, checks and prepares an icon.
    pub async fn fetch(&self, url: Url) -> Result<IconImage, IconError> {
        check_literal_host(&url, self.policy.allow_private)?;
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| IconError::Fetch(describe(&e)))?;
        if !response.status().is_success() {
            return Err(IconError::Status(response.status().as_u16()));
        }
        let cap = self.policy.max_bytes;
        if response.content_length().is_some_and(|n| n > cap as u64) {
            return Err(IconError::TooLarge(cap));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| IconError::Fetch(describe(&e)))?
        {
            if body.len() + chunk.len() > cap {
                return Err(IconError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        // The permit moves into the blocking task, so it is held until the decode
        // really ends, even when this future is dropped (the client went away).
        let permit = self
            .decodes
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| IconError::NotAnImage(format!("image task failed: {e}")))?;
        let data = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            to_icon_png(&body)
        })
        .await
        .map_err(|e| IconError::NotAnImage(format!("image task failed: {e}")))??;
        Ok(IconImage {
            content_type: "image/png".to_string(),
            data,
        })
    }
}

/// The error and its causes on one line (reqwest hides the interesting part).
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A reader for `bytes` with its format guessed and the decoder's limits set.
fn reader(bytes: &[u8]) -> Result<image::ImageReader<Cursor<&[u8]>>, IconError> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| IconError::NotAnImage(e.to_string()))?;
    if reader.format().is_none() {
        return Err(IconError::NotAnImage("unknown image format".into()));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

/// Refuses a canvas larger than an icon could need.
fn check_canvas(width: u32, height: u32) -> Result<(), IconError> {
    if width == 0 || height == 0 {
        return Err(IconError::NotAnImage("the image is empty".into()));
    }
    if width > MAX_SOURCE_SIDE
        || height > MAX_SOURCE_SIDE
        || u64::from(width) * u64::from(height) > MAX_SOURCE_PIXELS
    {
        return Err(IconError::TooManyPixels { width, height });
    }
    Ok(())
}

/// Decodes any supported image, crops the centred square and scales it to 200x200.
///
/// The header is read first and a canvas beyond [`MAX_SOURCE_SIDE`] or
/// [`MAX_SOURCE_PIXELS`] is refused before any pixel is decoded; the decoder may then
/// allocate at most [`MAX_DECODE_ALLOC`]. The square is scaled from a view of the
/// decoded image, never copied.
pub fn to_icon_png(bytes: &[u8]) -> Result<Vec<u8>, IconError> {
    let (w, h) = match reader(bytes)?.into_dimensions() {
        Ok(dims) => dims,
        Err(image::ImageError::Limits(_)) => {
            // The decoder refused the declared size itself; say which size it was.
            let dims = image::ImageReader::new(Cursor::new(bytes))
                .with_guessed_format()
                .ok()
                .and_then(|r| r.into_dimensions().ok());
            return Err(match dims {
                Some((width, height)) => IconError::TooManyPixels { width, height },
                None => IconError::NotAnImage("the image is too large".into()),
            });
        }
        Err(e) => return Err(IconError::NotAnImage(e.to_string())),
    };
    check_canvas(w, h)?;
    let img = reader(bytes)?
        .decode()
        .map_err(|e| IconError::NotAnImage(e.to_string()))?;
    let (w, h) = (img.width(), img.height());
    check_canvas(w, h)?;
    let side = w.min(h);
    let square = image::imageops::crop_imm(&img, (w - side) / 2, (h - side) / 2, side, side);
    let icon = image::imageops::resize(
        &*square,
        ICON_SIZE,
        ICON_SIZE,
        image::imageops::FilterType::Triangle,
    );
    let mut out = Vec::new();
    icon.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| IconError::NotAnImage(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} should be blocked");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[test]
    fn literal_hosts_are_checked() {
        let u = Url::parse("http://127.0.0.1:8080/x.png").unwrap();
        assert!(check_literal_host(&u, false).is_err());
        assert!(check_literal_host(&u, true).is_ok());
        let u = Url::parse("http://[::ffff:192.168.0.1]/x.png").unwrap();
        assert!(check_literal_host(&u, false).is_err());
        let u = Url::parse("http://example.com/x.png").unwrap();
        assert!(check_literal_host(&u, false).is_ok());
    }

    #[test]
    fn images_become_200_square_pngs() {
        let img = image::RgbImage::from_pixel(400, 300, image::Rgb([200, 10, 10]));
        let mut src = Vec::new();
        img.write_to(&mut Cursor::new(&mut src), image::ImageFormat::Jpeg)
            .unwrap();
        let out = to_icon_png(&src).unwrap();
        let back = image::load_from_memory(&out).unwrap();
        assert_eq!((back.width(), back.height()), (200, 200));
        assert!(to_icon_png(b"<html>not an image</html>").is_err());
    }

    #[test]
    fn oversized_canvases_are_refused_from_the_header() {
        // A tiny file with a side beyond the limit.
        let img = image::GrayImage::new(MAX_SOURCE_SIDE + 1, 1);
        let mut src = Vec::new();
        img.write_to(&mut Cursor::new(&mut src), image::ImageFormat::Png)
            .unwrap();
        assert!(matches!(
            to_icon_png(&src),
            Err(IconError::TooManyPixels {
                width: 8193,
                height: 1
            })
        ));
        // Sides within the limit, but too many pixels in all.
        assert!(check_canvas(4096, 4096).is_ok());
        assert!(matches!(
            check_canvas(4097, 4096),
            Err(IconError::TooManyPixels { .. })
        ));
        assert!(check_canvas(8192, 2048).is_ok());
        assert!(check_canvas(0, 10).is_err());
    }
}

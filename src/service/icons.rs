//! Group icons: fetched from the URL a client gives, checked to really be an image,
//! cropped to a centred square and scaled to 200x200 PNG.
//!
//! The fetch must not become a way into private networks. Every address a host name
//! resolves to is checked, and the connection is made only to checked addresses (so
//! a second DNS answer cannot swap in a private one); literal IP addresses in the URL
//! and in every redirect are checked too; proxies from the environment are ignored.
//! Every range of the IANA special-purpose registries that is not globally reachable
//! (and IPv6 addresses carrying such an IPv4 address) is refused unless
//! `allow_private` is set; see [`blocked_range`].

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
/// How many icons are decoded at once; the others wait (at most the fetch time limit,
/// then the group gets the default icon). With [`MAX_DECODE_ALLOC`] this bounds the
/// memory icons can take however many arrive together: the largest icon accepted
/// takes about 80 MB while it is decoded and scaled. Icons are rare and a decode
/// takes a fraction of a second, so one at a time costs little.
pub const MAX_CONCURRENT_DECODES: usize = 1;

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
    #[error("the address {addr} is not allowed ({range})")]
    Blocked { addr: IpAddr, range: &'static str },
    #[error("fetch failed: {0}")]
    Fetch(String),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the image is larger than {0} bytes")]
    TooLarge(usize),
    #[error("no decoding slot came free within the time limit")]
    Busy,
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
    blocked_range(ip).is_none()
}

/// The special-purpose range `ip` falls in, named, or `None` for a public address.
///
/// The tables below follow the IANA IPv4 and IPv6 Special-Purpose Address Registries
/// (RFC 6890 and its updates), plus multicast and the deprecated ranges the registry
/// no longer lists. Where the registry's "Globally Reachable" column says true for an
/// anycast or routing service (PCP/TURN anycast, AS112, AMT, ORCHIDv2, DETs), the range
/// is blocked all the same: no web server hosting an icon lives there, and refusing
/// costs nothing, so the conservative choice is taken.
///
/// IPv6 addresses that carry an IPv4 address are judged by that address:
/// IPv4-mapped `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96` (RFC 2765), the
/// NAT64 well-known prefix `64:ff9b::/96` (RFC 6052) and 6to4 `2002::/16` (RFC 3056,
/// the address in bits 16..48). A 6to4 or NAT64 address of a public IPv4 address is
/// allowed: the packets end at that public address. The local-use NAT64 prefix
/// `64:ff9b:1::/48` (RFC 8215) and Teredo `2001::/32` (whose client address is
/// obfuscated) are refused outright. Finally, an IPv6 address outside `2000::/3`, the
/// only block IANA allocates as global unicast, is refused whatever it is.
pub fn blocked_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

/// IPv4 ranges that are not fetched from: (network, prefix length, name).
#[rustfmt::skip]
const BLOCKED_V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\" (RFC 791)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private-use (RFC 1918)"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "shared address space (RFC 6598)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (RFC 1122)"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local (RFC 3927)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private-use (RFC 1918)"),
    // The whole /24, including the PCP and TURN anycast addresses 192.0.0.9 and
    // 192.0.0.10 that the registry marks globally reachable.
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments (RFC 6890)"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation TEST-NET-1 (RFC 5737)"),
    // Registry: globally reachable; blocked (see blocked_range).
    (Ipv4Addr::new(192, 31, 196, 0), 24, "AS112-v4 (RFC 7535)"),
    // Registry: globally reachable; blocked (see blocked_range).
    (Ipv4Addr::new(192, 52, 193, 0), 24, "AMT (RFC 7450)"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast, deprecated (RFC 7526)"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private-use (RFC 1918)"),
    // Registry: globally reachable; blocked (see blocked_range).
    (Ipv4Addr::new(192, 175, 48, 0), 24, "AS112 direct delegation (RFC 7534)"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking (RFC 2544)"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation TEST-NET-2 (RFC 5737)"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation TEST-NET-3 (RFC 5737)"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (RFC 5771)"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved (RFC 1112)"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "limited broadcast (RFC 919)"),
];

/// IPv6 ranges that are not fetched from: (network, prefix length, name). The
/// prefixes that embed an IPv4 address are handled in [`blocked_v6`] before this
/// table is consulted.
#[rustfmt::skip]
const BLOCKED_V6: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 128, "unspecified (RFC 4291)"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback (RFC 4291)"),
    // Deprecated IPv4-compatible addresses (RFC 4291 2.5.5.1), covering the two above.
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, "IPv4-compatible, deprecated (RFC 4291)"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "local-use IPv4/IPv6 translation (RFC 8215)"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard-only (RFC 6666)"),
    (Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0), 64, "dummy prefix (RFC 9780)"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, "Teredo (RFC 4380)"),
    // The whole /23, including what the registry marks globally reachable inside it:
    // PCP/TURN/DNS-SD anycast 2001:1::1-3, AMT 2001:3::/32, AS112-v6 2001:4:112::/48,
    // ORCHIDv2 2001:20::/28 and DETs 2001:30::/28.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignments (RFC 2928)"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation (RFC 3849)"),
    // Registry: globally reachable; blocked (see blocked_range).
    (Ipv6Addr::new(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48, "AS112 direct delegation (RFC 7534)"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation (RFC 9637)"),
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "SRv6 SIDs (RFC 9602)"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique local (RFC 4193)"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local (RFC 4291)"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local, deprecated (RFC 3879)"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast (RFC 4291)"),
];

fn v4_in(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net)
}

fn v6_in(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net)
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    BLOCKED_V4
        .iter()
        .find(|(net, len, _)| v4_in(ip, *net, *len))
        .map(|(_, _, name)| *name)
}

/// The IPv4 address an IPv6 address carries, for the prefixes that carry one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // IPv4-mapped ::ffff:a.b.c.d
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(v4(hi, lo)),
        // IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some(v4(hi, lo)),
        // NAT64 well-known prefix 64:ff9b::a.b.c.d (RFC 6052)
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        // 6to4 2002:AABB:CCDD::/48 (RFC 3056)
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return blocked_v4(v4);
    }
    if let Some((_, _, name)) = BLOCKED_V6
        .iter()
        .find(|(net, len, _)| v6_in(ip, *net, *len))
    {
        return Some(name);
    }
    if ip.segments()[0] & 0xe000 != 0x2000 {
        return Some("outside global unicast 2000::/3 (RFC 4291)");
    }
    None
}

/// Refuses a URL whose host is a literal IP address in a blocked range.
pub(crate) fn check_literal_host(url: &Url, allow_private: bool) -> Result<(), IconError> {
    if allow_private {
        return Ok(());
    }
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    match blocked_range(ip) {
        None => Ok(()),
        Some(range) => Err(IconError::Blocked { addr: ip, range }),
    }
}

/// A resolver that drops every blocked address from the answer.
pub(crate) struct GuardedResolver {
    pub(crate) allow_private: bool,
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
            .map_err(|e| IconError::Fetch(crate::wire::error_chain(&e)))?;
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
            .map_err(|e| IconError::Fetch(crate::wire::error_chain(&e)))?
        {
            if body.len() + chunk.len() > cap {
                return Err(IconError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        self.decode(body).await
    }

    /// Turns an image file (fetched or uploaded) into the group's 200x200 PNG,
    /// under the same size cap and decode limits as a fetch.
    pub async fn decode(&self, body: Vec<u8>) -> Result<IconImage, IconError> {
        let cap = self.policy.max_bytes;
        if body.len() > cap {
            return Err(IconError::TooLarge(cap));
        }
        // The permit moves into the blocking task, so it is held until the decode
        // really ends, even when this future is dropped (the client went away).
        let permit =
            tokio::time::timeout(self.policy.timeout, self.decodes.clone().acquire_owned())
                .await
                .map_err(|_| IconError::Busy)?
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
            token: new_icon_token(),
        })
    }
}

/// A fresh icon token: 128 bits from the thread's CSPRNG, as lowercase hex. Every
/// new icon gets one, so an icon's URL changes whenever the icon does.
pub fn new_icon_token() -> String {
    use std::fmt::Write;
    let bytes: [u8; 16] = rand::random();
    bytes.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A decoder for `bytes` (format guessed), having read only the header.
fn decoder(bytes: &[u8]) -> Result<impl image::ImageDecoder + '_, IconError> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| IconError::NotAnImage(e.to_string()))?;
    if reader.format().is_none() {
        return Err(IconError::NotAnImage("unknown image format".into()));
    }
    reader
        .into_decoder()
        .map_err(|e| IconError::NotAnImage(e.to_string()))
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
    use image::ImageDecoder;
    let mut decoder = decoder(bytes)?;
    let (w, h) = decoder.dimensions();
    check_canvas(w, h)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    decoder
        .set_limits(limits)
        .map_err(|e| IconError::NotAnImage(e.to_string()))?;
    let img = image::DynamicImage::from_decoder(decoder)
        .map_err(|e| IconError::NotAnImage(e.to_string()))?;
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_table_entry_is_a_network_address() {
        for (net, len, name) in BLOCKED_V4 {
            assert!(v4_in(*net, *net, *len), "{net}/{len} {name}");
            assert!(*len <= 32);
        }
        for (net, len, name) in BLOCKED_V6 {
            assert!(v6_in(*net, *net, *len), "{net}/{len} {name}");
            assert!(*len <= 128);
        }
    }

    #[test]
    fn first_and_last_address_of_every_listed_range_are_blocked() {
        for (net, len, name) in BLOCKED_V4 {
            let first = u32::from(*net);
            let last = first | u32::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
            for a in [first, last] {
                let a = IpAddr::V4(Ipv4Addr::from(a));
                assert!(
                    !is_public(a),
                    "{a} in {net}/{len} ({name}) should be blocked"
                );
            }
        }
        for (net, len, name) in BLOCKED_V6 {
            let first = u128::from(*net);
            let last = first | u128::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
            for a in [first, last] {
                let a = IpAddr::V6(Ipv6Addr::from(a));
                assert!(
                    !is_public(a),
                    "{a} in {net}/{len} ({name}) should be blocked"
                );
            }
        }
    }

    #[test]
    fn samples_inside_special_ranges_are_blocked() {
        for a in [
            // IPv4
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.254",
            "192.0.0.8",
            "192.0.0.9",
            "192.0.0.10",
            "192.0.0.170",
            "192.0.2.1",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.99.1",
            "192.168.1.1",
            "192.175.48.1",
            "198.18.0.1",
            "198.19.255.254",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:0:10.0.0.1",
            "::ffff:0:127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::127.0.0.1",
            "64:ff9b:1::1",
            "64:ff9b:1::8.8.8.8",
            "100::1",
            "100:0:0:1::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:1::1",
            "2001:1::2",
            "2001:2::1",
            "2001:3::1",
            "2001:4:112::1",
            "2001:10::1",
            "2001:20::1",
            "2001:30::1",
            "2001:1ff:ffff::1",
            "2001:db8::1",
            "2002:7f00:0001::1",
            "2002:0a00:0001::1",
            "2002:a9fe:a9fe::1",
            "2002:c058:6301::1",
            "2620:4f:8000::1",
            "3fff::1",
            "3fff:fff::1",
            "5f00::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            // Outside 2000::/3
            "4000::1",
            "1::1",
        ] {
            assert!(!is_public(ip(a)), "{a} should be blocked");
        }
    }

    #[test]
    fn public_neighbours_and_embedded_public_addresses_are_allowed() {
        for a in [
            // IPv4 addresses just outside the blocked ranges.
            "1.0.0.0",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "191.255.255.255",
            "192.0.1.0",
            "192.0.3.0",
            "192.31.195.255",
            "192.31.197.0",
            "192.52.192.255",
            "192.52.194.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "192.175.47.255",
            "192.175.49.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            // IPv6 addresses just outside the blocked ranges.
            "2000::1",
            "2001:200::",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2003::",
            "2606:4700::1111",
            "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff",
            "2620:4f:8001::",
            "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff:1000::",
            // Embedded public IPv4 addresses.
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "64:ff9b::8.8.8.8",
            // 6to4 of 8.8.8.8: allowed, the packets end at a public address.
            "2002:0808:0808::1",
        ] {
            assert!(is_public(ip(a)), "{a} should be allowed");
        }
    }

    #[test]
    fn blocked_addresses_are_named() {
        assert_eq!(
            blocked_range(ip("2002:7f00:0001::1")),
            Some("loopback (RFC 1122)")
        );
        assert_eq!(
            blocked_range(ip("64:ff9b:1::1")),
            Some("local-use IPv4/IPv6 translation (RFC 8215)")
        );
        assert_eq!(blocked_range(ip("2001:0:1::1")), Some("Teredo (RFC 4380)"));
        assert_eq!(blocked_range(ip("8.8.4.4")), None);
    }

    #[test]
    fn literal_hosts_are_checked() {
        let u = Url::parse("http://127.0.0.1:8080/x.png").unwrap();
        assert!(check_literal_host(&u, false).is_err());
        assert!(check_literal_host(&u, true).is_ok());
        let u = Url::parse("http://[::ffff:192.168.0.1]/x.png").unwrap();
        assert!(check_literal_host(&u, false).is_err());
        for blocked in [
            "http://[2002:7f00:1::1]/x.png",
            "http://[64:ff9b::10.0.0.1]/x.png",
            "http://[::ffff:0:10.0.0.1]/x.png",
            "http://192.0.0.9/x.png",
        ] {
            let u = Url::parse(blocked).unwrap();
            assert!(
                matches!(
                    check_literal_host(&u, false),
                    Err(IconError::Blocked { .. })
                ),
                "{blocked}"
            );
        }
        let u = Url::parse("http://example.com/x.png").unwrap();
        assert!(check_literal_host(&u, false).is_ok());
        let u = Url::parse("http://[64:ff9b::8.8.8.8]/x.png").unwrap();
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

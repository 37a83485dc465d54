//! The per-request guard: the client address's rate limit (before any dialect
//! reads the request) and the per-request deadline, both answered in the door's
//! own format (`dialects::refusal`), with `Retry-After` on every 429 (the key's
//! limit is checked by the service, which notes the wait; see
//! `service::limits`).

use super::ClientAddr;
use crate::config::Limits;
use crate::dialects::{Refusal, refusal};
use crate::service::limits::{RateLimits, with_retry_after};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Guard {
    pub rates: Arc<RateLimits>,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub deadline: Duration,
}

impl Guard {
    pub fn new(limits: &Limits, rates: Arc<RateLimits>) -> Guard {
        Guard {
            rates,
            trusted_proxies: Arc::new(limits.trusted_proxies.clone()),
            deadline: limits.request_deadline,
        }
    }
}

/// The client's address: the connection's, or, when that is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not one.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !is_trusted(a))
        .unwrap_or(peer)
}

/// Routes a load balancer or scraper must always reach.
fn exempt(path: &str) -> bool {
    path == "/metrics" || path == "/health" || path.starts_with("/health/")
}

/// Applies the guard to a request, then runs it (called by the one front
/// middleware, `observe`, so that a request crosses one middleware layer).
pub async fn guard(g: &Guard, req: Request, next: Next) -> Response {
    if exempt(req.uri().path()) {
        // Health checks and scrapes: never limited, and each bounds its own time.
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    {
        if let Some(peer) = req.extensions().get::<ClientAddr>().map(|a| a.0.ip()) {
            let client = client_address(peer, req.headers(), &g.trusted_proxies);
            if let Err(wait) = g.rates.check_address(client) {
                metrics::counter!("groupd_rate_limited_total", "limit" => "address").increment(1);
                let r = refusal(
                    &path,
                    query.as_deref(),
                    Refusal::TooManyRequests {
                        retry_after_secs: wait,
                    },
                );
                return with_retry_header(r, Some(wait));
            }
        }
    }
    let run = tokio::time::timeout(g.deadline, with_retry_after(next.run(req)));
    match run.await {
        Ok((response, wait)) => {
            if response.status() == StatusCode::TOO_MANY_REQUESTS && wait.is_some() {
                metrics::counter!("groupd_rate_limited_total", "limit" => "key").increment(1);
            }
            with_retry_header(response, wait)
        }
        Err(_) => {
            metrics::counter!("groupd_request_deadline_exceeded_total").increment(1);
            tracing::warn!(
                deadline_secs = g.deadline.as_secs(),
                "request stopped at its deadline"
            );
            refusal(
                &path,
                query.as_deref(),
                Refusal::DeadlineExceeded {
                    secs: g.deadline.as_secs(),
                },
            )
        }
    }
}

fn with_retry_header(mut r: Response, wait: Option<u64>) -> Response {
    if let (StatusCode::TOO_MANY_REQUESTS, Some(w)) = (r.status(), wait) {
        if let Ok(v) = HeaderValue::from_str(&w.max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.4, 10.1.1.1".parse().unwrap(),
        );
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        // Behind the proxy: the nearest untrusted hop (a client cannot forge it by
        // prepending addresses).
        assert_eq!(
            client_address(proxy, &h, &trusted),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
        // From anyone else the header is ignored.
        assert_eq!(client_address(stranger, &h, &trusted), stranger);
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_address(proxy, &h, &[]), proxy);
    }
}

//! Rate limits against abusive clients: a token bucket per API key (checked when
//! a key authenticates) and one per client address (checked by the server before
//! a dialect reads anything). Buckets are `governor`'s GCRA, keyed; their memory is
//! bounded by pruning idle buckets and, past a hard cap, starting afresh (a flood
//! of distinct addresses then gets through for a moment rather than holding
//! unbounded memory).

use crate::domain::event::KeyPrefix;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::cell::Cell;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// One limit: `per_sec` requests a second on average, bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_sec: u32,
    pub burst: u32,
}

/// Most buckets one limiter keeps before it starts afresh.
const MAX_BUCKETS: usize = 100_000;
/// Idle buckets are pruned every this many checks.
const PRUNE_EVERY: u64 = 4096;

/// A keyed limiter whose memory stays bounded.
pub struct Keyed<K: Hash + Eq + Clone> {
    quota: Quota,
    limiter: RwLock<Arc<DefaultKeyedRateLimiter<K>>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    pub fn new(rate: Rate) -> Option<Keyed<K>> {
        let per_sec = NonZeroU32::new(rate.per_sec)?;
        let burst = NonZeroU32::new(rate.burst.max(rate.per_sec))?;
        let quota = Quota::per_second(per_sec).allow_burst(burst);
        Some(Keyed {
            quota,
            limiter: RwLock::new(Arc::new(DefaultKeyedRateLimiter::keyed(quota))),
            checks: AtomicU64::new(0),
        })
    }

    /// `Ok` when `key` may go on; otherwise the whole seconds until it may.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let limiter = match self.limiter.read() {
            Ok(l) => l.clone(),
            Err(_) => return Ok(()),
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            limiter.retain_recent();
            if limiter.len() > MAX_BUCKETS {
                if let Ok(mut slot) = self.limiter.write() {
                    *slot = Arc::new(DefaultKeyedRateLimiter::keyed(self.quota));
                }
            }
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// The limits in force.
#[derive(Default)]
pub struct RateLimits {
    pub per_key: Option<Keyed<KeyPrefix>>,
    pub per_address: Option<Keyed<IpAddr>>,
}

impl RateLimits {
    pub fn new(per_key: Option<Rate>, per_address: Option<Rate>) -> RateLimits {
        RateLimits {
            per_key: per_key.and_then(Keyed::new),
            per_address: per_address.and_then(Keyed::new),
        }
    }

    /// Checks a client address (IPv6 by its /64: one host's addresses count once).
    pub fn check_address(&self, addr: IpAddr) -> Result<(), u64> {
        match &self.per_address {
            Some(l) => l.check(&network_of(addr)),
            None => Ok(()),
        }
    }
}

/// The address a limit counts: IPv4 as it is, IPv6 by its /64 network (an IPv4
/// address mapped into IPv6 as the IPv4 one).
pub fn network_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

tokio::task_local! {
    /// How long a rate-limited request must wait, noted by the service for the
    /// server to put in `Retry-After` (dialects only choose the status and body).
    static RETRY_AFTER: Cell<Option<u64>>;
}

/// Runs a request's handling where [`note_retry_after`] can be read back.
pub async fn with_retry_after<F: std::future::Future>(f: F) -> (F::Output, Option<u64>) {
    RETRY_AFTER
        .scope(Cell::new(None), async move {
            let out = f.await;
            (out, RETRY_AFTER.with(Cell::get))
        })
        .await
}

/// Notes the wait of a rate-limited request (no effect outside a request).
pub fn note_retry_after(secs: u64) {
    let _ = RETRY_AFTER.try_with(|c| c.set(Some(secs)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let l: Keyed<u32> = Keyed::new(Rate {
            per_sec: 1,
            burst: 3,
        })
        .unwrap();
        for _ in 0..3 {
            assert_eq!(l.check(&7), Ok(()));
        }
        let wait = l.check(&7).unwrap_err();
        assert!((1..=1).contains(&wait), "{wait}");
        assert_eq!(l.check(&8), Ok(()), "another key has its own bucket");
        assert!(
            Keyed::<u32>::new(Rate {
                per_sec: 0,
                burst: 5
            })
            .is_none(),
            "0 disables"
        );
    }

    #[test]
    fn ipv6_counts_by_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(network_of(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[tokio::test]
    async fn the_wait_is_read_back_within_a_request_only() {
        note_retry_after(5);
        let ((), seen) = with_retry_after(async { note_retry_after(3) }).await;
        assert_eq!(seen, Some(3));
        let ((), none) = with_retry_after(async {}).await;
        assert_eq!(none, None);
    }
}

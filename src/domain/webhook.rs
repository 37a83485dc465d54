//! Webhook endpoints and the rules of delivering to them: what a subscription may
//! name, when a failed delivery is tried again, and when an endpoint is given up.
//! Pure values and functions; the service sends, the store keeps the rows.

use super::ValidationErrors;
use super::event::EventPattern;
use super::text;

pub const URL_MAX: usize = 2000;
pub const DESCRIPTION_MAX: usize = 500;
pub const MAX_PATTERNS: usize = 50;

/// A webhook endpoint as stored. The signing secrets are not part of it: they
/// leave the store only for signing, and reach a user once, when made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    /// Subscriptions as written (`group.*`, `member.added`, `*`).
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Why groupd disabled it (a 410, days of failures); `None` when a user did.
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A delivery of one event to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub webhook: i64,
    pub event_id: i64,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i64,
    /// When it will be tried next (milliseconds), while pending.
    pub next_at_ms: i64,
    pub created_ms: i64,
    /// Each attempt so far, oldest first.
    pub tries: Vec<Attempt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at_ms: i64,
    /// The HTTP status the endpoint answered, if it answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// What went wrong (no answer, a status that is not 2xx).
    pub error: Option<String>,
}

/// What the endpoint did with an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It answered with this status; `retry_after` is its `Retry-After` in seconds.
    Answered {
        status: u16,
        retry_after: Option<u64>,
    },
    /// No answer: connection refused, timed out, blocked address, ...
    NoAnswer(String),
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterAttempt {
    pub state: DeliveryState,
    /// When to try again (milliseconds), if pending.
    pub next_at_ms: i64,
    /// Disable the endpoint, saying why.
    pub disable: Option<String>,
    /// The endpoint answered 2xx: it is healthy again.
    pub healthy: bool,
    pub error: Option<String>,
}

/// The retry schedule: seconds to wait after the first, second, ... failure.
/// Standard Webhooks' suggestion, about 27 hours in all.
pub const DEFAULT_SCHEDULE: [u64; 8] = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000];

/// An endpoint with no successful delivery for this long, and failures all along,
/// is disabled.
pub const DEFAULT_DISABLE_AFTER_SECS: u64 = 5 * 24 * 3600;

/// Most a `Retry-After` may push a retry back.
pub const MAX_RETRY_AFTER_SECS: u64 = 24 * 3600;

/// How deliveries are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub schedule: Vec<u64>,
    pub disable_after_secs: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            schedule: DEFAULT_SCHEDULE.to_vec(),
            disable_after_secs: DEFAULT_DISABLE_AFTER_SECS,
        }
    }
}

impl RetryPolicy {
    /// Decides what follows attempt number `attempt` (1 for the first) of a
    /// delivery. `jitter` is a number in [0, 1) from the caller's random source:
    /// a wait is spread over ±20% of its length, so endpoints that failed together
    /// are not all tried again in the same instant. `failing_since_ms` is when the
    /// endpoint's current run of failures began (`None`: it was healthy).
    pub fn after_attempt(
        &self,
        attempt: i64,
        outcome: &Outcome,
        now_ms: i64,
        jitter: f64,
        failing_since_ms: Option<i64>,
    ) -> AfterAttempt {
        let (status, retry_after, error) = match outcome {
            Outcome::Answered {
                status,
                retry_after,
            } => {
                if (200..300).contains(status) {
                    return AfterAttempt {
                        state: DeliveryState::Delivered,
                        next_at_ms: now_ms,
                        disable: None,
                        healthy: true,
                        error: None,
                    };
                }
                (Some(*status), *retry_after, format!("answered {status}"))
            }
            Outcome::NoAnswer(why) => (None, None, why.clone()),
        };
        let mut disable = None;
        if status == Some(410) {
            disable = Some("the endpoint answered 410 Gone".to_string());
        } else if let Some(since) = failing_since_ms {
            let days = self.disable_after_secs as i64 * 1000;
            if now_ms - since >= days {
                disable = Some(format!(
                    "no delivery succeeded for {} hours",
                    self.disable_after_secs / 3600
                ));
            }
        }
        let index = usize::try_from(attempt.max(1) - 1).unwrap_or(usize::MAX);
        let wait = match self.schedule.get(index) {
            None => None,
            Some(secs) => {
                let spread = (jitter.clamp(0.0, 1.0) * 0.4 - 0.2) * *secs as f64;
                let mut ms = (*secs as f64 * 1000.0 + spread * 1000.0).max(0.0) as i64;
                let honoured = matches!(status, Some(429 | 503));
                if let (true, Some(after)) = (honoured, retry_after) {
                    ms = ms.max(after.min(MAX_RETRY_AFTER_SECS) as i64 * 1000);
                }
                Some(ms)
            }
        };
        let (state, next_at_ms) = match (wait, &disable) {
            (Some(ms), None) => (DeliveryState::Pending, now_ms + ms),
            _ => (DeliveryState::Failed, now_ms),
        };
        AfterAttempt {
            state,
            next_at_ms,
            disable,
            healthy: false,
            error: Some(error),
        }
    }
}

/// Reads a `Retry-After` header: seconds, or an HTTP date (as seconds from `now`).
pub fn parse_retry_after(value: &str, now_secs: i64) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    let when = httpdate_secs(v)?;
    Some(u64::try_from(when - now_secs).unwrap_or(0))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as seconds since the epoch.
fn httpdate_secs(v: &str) -> Option<i64> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + m * 60 + s)
}

/// A webhook as a user asks for it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDraft {
    pub url: Option<url::Url>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// Checks a webhook's fields; `creating` requires `url` and `events`.
pub fn check_draft(
    url: Option<&str>,
    events: Option<&[String]>,
    description: Option<&str>,
    enabled: Option<bool>,
    creating: bool,
) -> Result<WebhookDraft, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let url = match url {
        None => {
            if creating {
                errors.push("url", "is required");
            }
            None
        }
        Some(raw) => match check_url(raw) {
            Ok(u) => Some(u),
            Err(msg) => {
                errors.push("url", msg);
                None
            }
        },
    };
    let events = match events {
        None => {
            if creating {
                errors.push(
                    "events",
                    "is required: a list such as [\"group.*\", \"member.added\"]",
                );
            }
            None
        }
        Some(list) => match check_patterns(list) {
            Ok(p) => Some(p),
            Err(msg) => {
                errors.push("events", msg);
                None
            }
        },
    };
    let description = match description {
        None => None,
        Some(d) => match text::clean(d, DESCRIPTION_MAX, true) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push("description", e.message());
                None
            }
        },
    };
    errors.into_result(WebhookDraft {
        url,
        events,
        description,
        enabled,
    })
}

fn check_url(raw: &str) -> Result<url::Url, String> {
    let raw = raw.trim();
    if raw.len() > URL_MAX {
        return Err(format!("must be at most {URL_MAX} characters"));
    }
    let u = url::Url::parse(raw).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    Ok(u)
}

/// Subscriptions, checked and without repeats, in the order given.
pub fn check_patterns(list: &[String]) -> Result<Vec<String>, String> {
    if list.is_empty() {
        return Err("must name at least one event type, group.* or *".into());
    }
    if list.len() > MAX_PATTERNS {
        return Err(format!("at most {MAX_PATTERNS} entries"));
    }
    let mut out: Vec<String> = Vec::new();
    for raw in list {
        let p = EventPattern::parse(raw).map_err(|e| e.to_string())?;
        let s = p.as_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16) -> Outcome {
        Outcome::Answered {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn only_2xx_delivers_and_failures_back_off_along_the_schedule() {
        let p = RetryPolicy::default();
        let ok = p.after_attempt(1, &answered(204), 1_000, 0.5, None);
        assert_eq!(ok.state, DeliveryState::Delivered);
        assert!(ok.healthy);
        for (attempt, secs) in DEFAULT_SCHEDULE.iter().enumerate() {
            let a = p.after_attempt(attempt as i64 + 1, &answered(500), 0, 0.5, None);
            assert_eq!(a.state, DeliveryState::Pending);
            assert_eq!(a.next_at_ms, *secs as i64 * 1000, "attempt {attempt}");
        }
        let last = p.after_attempt(9, &answered(500), 0, 0.5, None);
        assert_eq!(last.state, DeliveryState::Failed);
        // 3xx is not success either: redirects are not followed.
        assert_eq!(
            p.after_attempt(1, &answered(301), 0, 0.5, None).state,
            DeliveryState::Pending
        );
    }

    #[test]
    fn jitter_spreads_a_wait_by_a_fifth_either_way() {
        let p = RetryPolicy::default();
        let low = p.after_attempt(2, &answered(500), 0, 0.0, None).next_at_ms;
        let high = p
            .after_attempt(2, &answered(500), 0, 0.999_999, None)
            .next_at_ms;
        assert_eq!(low, 240_000);
        assert!((359_000..=360_000).contains(&high), "{high}");
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_503_only() {
        let p = RetryPolicy::default();
        let busy = Outcome::Answered {
            status: 429,
            retry_after: Some(120),
        };
        assert_eq!(p.after_attempt(1, &busy, 0, 0.5, None).next_at_ms, 120_000);
        let server = Outcome::Answered {
            status: 500,
            retry_after: Some(120),
        };
        assert_eq!(p.after_attempt(1, &server, 0, 0.5, None).next_at_ms, 5_000);
        let huge = Outcome::Answered {
            status: 503,
            retry_after: Some(10_000_000),
        };
        assert_eq!(
            p.after_attempt(1, &huge, 0, 0.5, None).next_at_ms,
            MAX_RETRY_AFTER_SECS as i64 * 1000
        );
    }

    #[test]
    fn gone_disables_and_so_do_days_of_failure() {
        let p = RetryPolicy::default();
        let gone = p.after_attempt(1, &answered(410), 0, 0.5, None);
        assert_eq!(gone.state, DeliveryState::Failed);
        assert!(gone.disable.is_some());
        let day = 86_400_000;
        let recent = p.after_attempt(3, &answered(500), 4 * day, 0.5, Some(0));
        assert!(recent.disable.is_none());
        let old = p.after_attempt(3, &answered(500), 5 * day, 0.5, Some(0));
        assert_eq!(old.state, DeliveryState::Failed);
        assert!(old.disable.is_some());
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 30 ", 0), Some(30));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 - 60),
            Some(60)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 + 5),
            Some(0)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }

    #[test]
    fn drafts_are_checked_field_by_field() {
        let ev = vec![
            "group.*".to_string(),
            "group.*".into(),
            "member.added".into(),
        ];
        let d = check_draft(
            Some("https://example.com/hook"),
            Some(&ev),
            None,
            None,
            true,
        )
        .expect("valid");
        assert_eq!(d.events.unwrap(), ["group.*", "member.added"]);
        let bad = check_draft(
            Some("ftp://x"),
            Some(&["nope".to_string()]),
            None,
            None,
            true,
        )
        .unwrap_err();
        let fields: Vec<String> = bad.fields().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["url", "events"]);
        assert!(check_draft(None, None, None, Some(false), false).is_ok());
        assert!(check_draft(None, None, None, None, true).is_err());
        assert!(
            check_draft(
                Some("https://u:p@example.com/"),
                Some(&ev),
                None,
                None,
                true
            )
            .is_err()
        );
    }
}

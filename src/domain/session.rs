//! Console sessions: who a sign-in is for, when it has gone idle, and how hard
//! repeated failed sign-ins are slowed down. Plain values and arithmetic; the
//! service keeps the clock, the tokens and the store.

use super::event::{Actor, KeyPrefix};
use super::user::UserId;
use super::workspace::WorkspaceId;

/// Who a console session signed in as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionActor {
    /// With an API key (by its prefix): the session ends when the key is revoked.
    Key(KeyPrefix),
    /// A user holding the admin role in the workspace's built-in Admin group: the
    /// session ends when they lose it.
    User(UserId),
}

impl SessionActor {
    /// What the session's changes are stamped with (`key:<prefix>`, `user:<id>`).
    pub fn actor(&self) -> Actor {
        match self {
            SessionActor::Key(p) => Actor::Key(*p),
            SessionActor::User(id) => Actor::User(id.0),
        }
    }

    /// The stored form, the same text as the event actor.
    pub fn to_text(&self) -> String {
        self.actor().to_string()
    }

    pub fn parse(s: &str) -> Option<SessionActor> {
        if let Some(p) = s.strip_prefix("key:") {
            return KeyPrefix::parse(p).map(SessionActor::Key);
        }
        let id = s.strip_prefix("user:")?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        id.parse().ok().map(|id| SessionActor::User(UserId(id)))
    }
}

/// A signed-in console session, as stored (the token itself never is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub workspace: WorkspaceId,
    pub actor: SessionActor,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// When the session was last used (written at most every [`TOUCH_EVERY_SECS`]).
    pub seen_at: i64,
}

/// The idle time a session lasts by default.
pub const DEFAULT_IDLE_SECS: i64 = 30 * 60;
/// The longest a session lasts, however busy: a day.
pub const MAX_AGE_SECS: i64 = 24 * 60 * 60;
/// A session's last use is written at most this often, so that browsing costs no
/// write per page.
pub const TOUCH_EVERY_SECS: i64 = 60;

impl Session {
    /// Whether the session still stands at `now`: used within the idle time (the
    /// recorded use may lag by up to [`TOUCH_EVERY_SECS`]) and not older than
    /// [`MAX_AGE_SECS`].
    pub fn is_live(&self, now: i64, idle_secs: i64) -> bool {
        now - self.seen_at < idle_secs.max(1) && now - self.created_at < MAX_AGE_SECS
    }

    /// Whether this use should be written down.
    pub fn needs_touch(&self, now: i64) -> bool {
        now - self.seen_at >= TOUCH_EVERY_SECS
    }
}

/// Failed sign-ins allowed before they are slowed down.
pub const FREE_FAILURES: u32 = 5;
/// A sign-in failure is forgotten after this long without another.
pub const FAILURE_MEMORY_SECS: u64 = 15 * 60;
/// The longest wait imposed between two attempts.
pub const MAX_WAIT_SECS: u64 = 5 * 60;

/// How long to wait before the next attempt after `failures` failed ones in a
/// row: nothing for the first [`FREE_FAILURES`], then 1 s, 2 s, 4 s, ... up to
/// [`MAX_WAIT_SECS`].
pub fn wait_after_failures(failures: u32) -> u64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - FREE_FAILURES).min(16);
    (1u64 << doublings).min(MAX_WAIT_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_read_back_as_written() {
        let key = SessionActor::Key(KeyPrefix::parse("AbCd1234").unwrap());
        let user = SessionActor::User(UserId(42));
        for a in [key, user] {
            assert_eq!(SessionActor::parse(&a.to_text()), Some(a));
        }
        assert_eq!(key.to_text(), "key:AbCd1234");
        assert_eq!(user.to_text(), "user:42");
        for bad in [
            "",
            "cli",
            "user:",
            "user:-1",
            "user:4x",
            "key:short",
            "scim:key:AbCd1234",
        ] {
            assert_eq!(SessionActor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let s = Session {
            workspace: WorkspaceId(1),
            actor: SessionActor::User(UserId(1)),
            created_at: 1000,
            seen_at: 1000,
        };
        assert!(s.is_live(1000 + 1799, 1800));
        assert!(!s.is_live(1000 + 1800, 1800));
        let busy = Session {
            seen_at: 1000 + MAX_AGE_SECS - 10,
            ..s.clone()
        };
        assert!(!busy.is_live(1000 + MAX_AGE_SECS, 1800));
        assert!(!s.needs_touch(1000 + TOUCH_EVERY_SECS - 1));
        assert!(s.needs_touch(1000 + TOUCH_EVERY_SECS));
    }

    #[test]
    fn failures_wait_longer_and_longer_up_to_a_cap() {
        let waits: Vec<u64> = (0..8).map(wait_after_failures).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 1, 2, 4]);
        assert_eq!(wait_after_failures(40), MAX_WAIT_SECS);
    }
}

//! A small in-memory cache whose entries are valid while a token stays the same.
//!
//! Used for checked API keys (token: the store's revocation token) and, on SQLite,
//! for groups read by id (token: the database's write token). The rules that make
//! it safe: read the token *before* reading the value from the database, and put
//! the value under that token; a value read under a token that has since moved is
//! dropped, and the first look-up under a new token empties the cache.
//!
//! As a backstop against a token that fails to move (a process killed between its
//! commit and its mark, a marker file deleted by hand), the whole cache is also
//! emptied once it is older than `max_age`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct TokenCache<K, V> {
    capacity: usize,
    max_age: Duration,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    token: u64,
    since: Instant,
    entries: HashMap<K, Arc<V>>,
}

impl<K: Eq + Hash, V> TokenCache<K, V> {
    /// A cache that starts again from empty when it holds `capacity` entries or
    /// has been filling for `max_age`.
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        TokenCache {
            capacity,
            max_age,
            inner: Mutex::new(Inner {
                token: 0,
                since: Instant::now(),
                entries: HashMap::new(),
            }),
        }
    }

    /// The value for `key` if it was put under `token`.
    pub fn get<Q>(&self, key: &Q, token: u64) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let mut inner = self.inner.lock().ok()?;
        if inner.token != token || inner.since.elapsed() > self.max_age {
            inner.entries.clear();
            inner.token = token;
            inner.since = Instant::now();
            return None;
        }
        inner.entries.get(key).cloned()
    }

    /// Keeps `value`, read from the database after `token` was read.
    pub fn put(&self, key: K, value: &Arc<V>, token: u64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.token != token {
            return;
        }
        if inner.entries.len() >= self.capacity {
            inner.entries.clear();
        }
        inner.entries.insert(key, Arc::clone(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_empties_the_cache() {
        let cache = TokenCache::new(8, Duration::from_secs(60));
        assert!(cache.get(&"a", 7).is_none());
        cache.put("a", &Arc::new(1), 7);
        assert_eq!(cache.get(&"a", 7).as_deref(), Some(&1));
        assert!(cache.get(&"a", 8).is_none(), "the token moved");
        assert!(cache.get(&"a", 7).is_none(), "gone, not hidden");
    }

    #[test]
    fn a_value_read_under_an_old_token_is_not_kept() {
        // A request read the token (7), then the value; meanwhile another request
        // saw the token move (8). The first request's value may be out of date.
        let cache = TokenCache::new(8, Duration::from_secs(60));
        assert!(cache.get(&"b", 8).is_none());
        cache.put("a", &Arc::new(1), 7);
        assert!(cache.get(&"a", 8).is_none());
    }

    #[test]
    fn an_old_cache_starts_again() {
        let cache = TokenCache::new(8, Duration::ZERO);
        assert!(cache.get(&"a", 1).is_none());
        cache.put("a", &Arc::new(1), 1);
        std::thread::sleep(Duration::from_millis(2));
        assert!(cache.get(&"a", 1).is_none(), "older than max_age");
    }

    #[test]
    fn a_full_cache_starts_again() {
        let cache = TokenCache::new(3, Duration::from_secs(60));
        assert!(cache.get(&0, 1).is_none(), "takes token 1");
        for i in 0..3 {
            cache.put(i, &Arc::new(i), 1);
        }
        assert!(cache.get(&0, 1).is_some());
        cache.put(99, &Arc::new(99), 1);
        assert!(cache.get(&0, 1).is_none());
        assert!(cache.get(&99, 1).is_some());
    }
}

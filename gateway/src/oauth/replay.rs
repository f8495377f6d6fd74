//! The `jti` replay cache: RFC 7523 §3 (item 7) for client assertions and RFC 9449 §11.1 for DPoP proofs both
//! require that a JWT id is accepted once only while the JWT could still be accepted.
//!
//! [`ReplayCache`] is the seam: the store implements it (a shared table, so every gateway replica sees every
//! `jti`); [`InMemoryReplayCache`] serves tests and a single process. An implementation must make
//! insert-if-absent atomic (two concurrent inserts of one key: exactly one wins) and must never forget an entry
//! before its expiry; it may keep entries longer.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

/// The replay cache could not answer (e.g. the store is unreachable). Callers must refuse the request: a check
/// that cannot be made is a failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replay cache unavailable: {0}")]
pub struct ReplayCacheError(pub String);

/// Remembers JWT ids until they expire.
#[async_trait]
pub trait ReplayCache: Send + Sync {
    /// Records `key` as used until `expires_at`. Returns `Ok(true)` if the key was new (the JWT may be accepted),
    /// `Ok(false)` if it was already recorded and has not expired (a replay). `now` lets implementations purge
    /// expired entries without a wall clock.
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayCacheError>;
}

/// A process-local replay cache: a map from key to expiry behind a mutex, purged of expired entries as it grows.
#[derive(Debug, Default)]
pub struct InMemoryReplayCache {
    entries: Mutex<HashMap<String, OffsetDateTime>>,
    /// Purge when the map grows past this (amortized: twice what survived the last purge, at least
    /// [`PURGE_THRESHOLD`]), so a busy cache is not scanned on every insert.
    next_purge: Mutex<usize>,
}

/// Purge expired entries once the map holds more than this many keys.
const PURGE_THRESHOLD: usize = 4096;

impl InMemoryReplayCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys are currently remembered (expired ones may still be counted until the next purge).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key expired at `now`; answers how many were forgotten.
    pub fn purge(&self, now: OffsetDateTime) -> usize {
        let Ok(mut entries) = self.entries.lock() else { return 0 };
        let before = entries.len();
        entries.retain(|_, exp| *exp > now);
        before - entries.len()
    }
}

#[async_trait]
impl ReplayCache for InMemoryReplayCache {
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayCacheError> {
        let mut entries = self.entries.lock().map_err(|_| ReplayCacheError("lock poisoned".into()))?;
        let mut next_purge = self.next_purge.lock().map_err(|_| ReplayCacheError("lock poisoned".into()))?;
        if entries.len() > (*next_purge).max(PURGE_THRESHOLD) {
            entries.retain(|_, exp| *exp > now);
            *next_purge = entries.len().saturating_mul(2);
        }
        match entries.get(key) {
            Some(exp) if *exp > now => Ok(false),
            _ => {
                entries.insert(key.to_owned(), expires_at);
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[tokio::test]
    async fn second_insert_of_a_live_key_is_a_replay_and_expired_keys_are_forgotten() {
        let cache = InMemoryReplayCache::new();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        assert!(cache.insert_if_absent("a", now + Duration::seconds(60), now).await.expect("cache"));
        assert!(!cache.insert_if_absent("a", now + Duration::seconds(60), now).await.expect("cache"));
        assert!(cache.insert_if_absent("b", now + Duration::seconds(60), now).await.expect("cache"));
        // After expiry the key may be used again (the JWT itself is then refused by its own time checks).
        let later = now + Duration::seconds(61);
        assert!(cache.insert_if_absent("a", later + Duration::seconds(60), later).await.expect("cache"));
        assert_eq!(cache.len(), 2);
    }
}

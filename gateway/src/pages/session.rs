//! Server-side sessions of the consent pages (and, through the same [`Sessions`] store, of the dashboard), keyed by the random id in the `__Host-gw_session` cookie: which
//! pushed request a browser is completing, where in the flow it is, its CSRF token (RFC 6749 §10.12) and, while the
//! person is at their bank, the bank `state` and PKCE verifier (RFC 7636).
//!
//! Sessions live in this process's memory (bounded, expiring on the gateway's clock), so a multi-replica deployment
//! needs sticky sessions for the pages. This module must never print a CSRF token, session id or PKCE verifier
//! (`Debug` hides them) and never read the wall clock.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};

use crate::banks::PkceVerifier;
use crate::consent::ConsentRequest;

/// How long a page session lives without finishing (the person may take time at their bank).
pub const SESSION_LIFETIME: Duration = Duration::minutes(15);
/// At most this many live sessions; the oldest-expiring is dropped first when full.
pub const MAX_SESSIONS: usize = 10_000;

/// Where a browser is in the authorization.
#[derive(Clone)]
pub enum Stage {
    /// The consent page is shown.
    Consent,
    /// The separate secondary-use opt-in screen is shown; `bank` was chosen.
    OptIn { bank: String },
    /// The person was sent to `bank` with `bank_state` and the PKCE `verifier`.
    AtBank { bank: String, bank_state: String, verifier: PkceVerifier, opted_in: bool },
    /// Back from the bank with tokens stored under the PENDING consent `consent_id`; the final confirmation is shown.
    Confirm { bank: String, consent_id: String, person: String, accounts: Vec<String>, opted_in: bool },
    /// The bank's data-sharing policy refused the request (its redirect carried `refusal=data_sharing_policy`); the
    /// refusal page is shown with `description`, the bank's words, already capped and cleaned.
    Refused { bank: String, description: String },
}

/// One browser's authorization in progress.
#[derive(Clone)]
pub struct PageSession {
    pub csrf: String,
    pub client_id: String,
    pub client_name: String,
    /// The client's registered `platform`, sent to the bank.
    pub platform: Option<String>,
    pub request_uri: String,
    pub redirect_uri: String,
    pub oauth_state: Option<String>,
    pub request: ConsentRequest,
    pub stage: Stage,
    pub expires_at: OffsetDateTime,
}

impl PageSession {
    /// RFC 6749 §10.12: the form's token equals the session's, compared in constant time.
    pub fn csrf_matches(&self, sent: Option<&str>) -> bool {
        csrf_matches(&self.csrf, sent)
    }
}

/// RFC 6749 §10.12: a form's CSRF token equals the session's `expected` one, compared in constant time.
pub fn csrf_matches(expected: &str, sent: Option<&str>) -> bool {
    sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}

impl fmt::Debug for PageSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageSession")
            .field("client_id", &self.client_id)
            .field("csrf", &"<hidden>")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A server-side session that ends at an instant of the gateway's clock.
pub trait Expiring: Clone {
    fn expires_at(&self) -> OffsetDateTime;
}

impl Expiring for PageSession {
    fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }
}

/// Live server-side sessions by id (the consent pages' and the dashboard's), bounded to [`MAX_SESSIONS`].
pub struct Sessions<S> {
    inner: Mutex<HashMap<String, S>>,
}

/// The live consent-page sessions.
pub type ConsentSessions = Sessions<PageSession>;

impl<S> Default for Sessions<S> {
    fn default() -> Self {
        Self { inner: Mutex::new(HashMap::new()) }
    }
}

impl<S> fmt::Debug for Sessions<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let live = self.inner.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Sessions").field("live", &live).finish()
    }
}

impl<S: Expiring> Sessions<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, S>> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores (or replaces) the session `id`; when full, drops the expired ones, then the soonest-expiring. Expired
    /// sessions are only swept then (every read checks expiry): a sweep on every store made each step of every flow
    /// scan all the sessions in progress, under the lock every page shares.
    pub fn put(&self, id: &str, session: S, now: OffsetDateTime) {
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS && !map.contains_key(id) {
            map.retain(|_, s| s.expires_at() > now);
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires_at()).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id.to_owned(), session);
    }

    /// The live session `id` at `now`.
    pub fn get(&self, id: &str, now: OffsetDateTime) -> Option<S> {
        self.lock().get(id).filter(|s| s.expires_at() > now).cloned()
    }

    /// Ends the session `id`.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// The value of cookie `name` when it is a well-formed session id (32 random bytes, base64url: 43 characters).
pub fn session_cookie_id(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
        .find(|id| id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-04 15:00 UTC);

    #[derive(Clone, Debug, PartialEq)]
    struct Until(OffsetDateTime);

    impl Expiring for Until {
        fn expires_at(&self) -> OffsetDateTime {
            self.0
        }
    }

    /// The bound holds: a full book first sweeps the expired sessions, then drops the soonest-expiring live one; an
    /// expired session is never answered, swept or not.
    #[test]
    fn a_full_book_sweeps_the_expired_then_drops_the_soonest_expiring() {
        let book = Sessions::<Until>::default();
        // Half expire after one minute, half after an hour.
        for n in 0..MAX_SESSIONS {
            let minutes = if n % 2 == 0 { 1 } else { 60 };
            book.put(&format!("s{n}"), Until(T0 + Duration::minutes(minutes) + Duration::milliseconds(n as i64)), T0);
        }
        assert_eq!(book.lock().len(), MAX_SESSIONS);
        let later = T0 + Duration::minutes(30);
        assert_eq!(book.get("s0", later), None, "expired, though not swept yet");
        assert!(book.get("s1", later).is_some());
        // Replacing a stored session needs no room.
        book.put("s1", Until(later + Duration::hours(1)), later);
        assert_eq!(book.lock().len(), MAX_SESSIONS);
        // A new one when full: the expired half is swept.
        book.put("new", Until(later + Duration::minutes(15)), later);
        assert_eq!(book.lock().len(), MAX_SESSIONS / 2 + 1);
        assert!(book.get("new", later).is_some());

        // Full of live sessions: the soonest-expiring one ("new", 15 minutes left) makes room, nothing else goes.
        let mut n = MAX_SESSIONS;
        while book.lock().len() < MAX_SESSIONS {
            book.put(&format!("s{n}"), Until(later + Duration::hours(2)), later);
            n += 1;
        }
        book.put("last", Until(later + Duration::hours(2)), later);
        assert_eq!(book.lock().len(), MAX_SESSIONS);
        assert_eq!(book.get("new", later), None, "the soonest-expiring was dropped");
        assert!(book.get("s3", later).is_some() && book.get("last", later).is_some());
    }
}

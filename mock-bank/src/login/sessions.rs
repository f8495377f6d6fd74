//! Login sessions: the server-side state of one person going through the bank's login pages, from the
//! authorization request to the account choice.
//!
//! A session lives in memory only, keyed by the SHA-256 of a random id that travels in a cookie; it carries its own
//! CSRF token and expires after [`SESSION_TTL`] of simulated time. The book is bounded ([`MAX_SESSIONS`]): when full
//! of live sessions it refuses new ones instead of growing. Never persisted, never logged.

use super::{DataCluster, error::AuthError, secrets};
use crate::ledger::users::ChosenError;
use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// A login session ends this long (simulated time) after the authorization request.
pub const SESSION_TTL: Duration = Duration::minutes(10);
/// Most live login sessions kept at once.
pub const MAX_SESSIONS: usize = 10_000;
/// Wrong passwords before the session ends.
pub const MAX_PASSWORD_TRIES: u8 = 5;
/// Wrong one-time codes before the session ends.
pub const MAX_MFA_TRIES: u8 = 3;

/// The validated authorization request (RFC 6749 §4.1.1 + RFC 7636 §4.3) a session serves.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    /// RFC 7636 S256 challenge.
    pub code_challenge: String,
    /// The data the client asks the person to share; `None` for a sign-in only (`scope=openid`), which skips the
    /// account page and creates no consent.
    pub sharing: Option<SharingRequest>,
}

/// What a data-sharing authorization request asks for (`fdx:*` scopes and the bank's extension parameters).
#[derive(Debug, Clone)]
pub(crate) struct SharingRequest {
    pub clusters: Vec<DataCluster>,
    pub purposes: Vec<String>,
    pub platform: Option<String>,
    /// How long the consent will last, 1-365 days.
    pub duration_days: u16,
}

/// Where the person is in the login.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stage {
    Password { wrong_passwords: u8 },
    Mfa { customer_index: u32, chosen_error: Option<ChosenError>, wrong_codes: u8 },
    Accounts { customer_index: u32, chosen_error: Option<ChosenError> },
}

#[derive(Clone)]
pub(crate) struct LoginSession {
    pub csrf: String,
    pub request: AuthorizeRequest,
    pub stage: Stage,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for LoginSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSession")
            .field("csrf", &"<hidden>")
            .field("client_id", &self.request.client_id)
            .field("stage", &self.stage)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl LoginSession {
    /// RFC 6749 §10.12: the CSRF token of a form post must be this session's, compared in constant time.
    pub fn csrf_matches(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| secrets::ct_eq_str(&self.csrf, p))
    }
}

/// The bank's live login sessions.
#[derive(Default)]
pub(crate) struct SessionBook {
    sessions: Mutex<HashMap<[u8; 32], LoginSession>>,
}

impl std::fmt::Debug for SessionBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBook").field("live", &self.lock().len()).finish()
    }
}

impl SessionBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], LoginSession>> {
        // Every mutation below is a single insert/remove/assignment: a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Start a session; returns its id (the cookie value).
    pub fn start(&self, request: AuthorizeRequest, now: OffsetDateTime) -> Result<String, AuthError> {
        let id = secrets::random_token()?;
        let csrf = secrets::random_token()?;
        let session = LoginSession {
            csrf,
            request,
            stage: Stage::Password { wrong_passwords: 0 },
            expires_at: now + SESSION_TTL,
        };
        let mut sessions = self.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.expires_at > now);
        }
        if sessions.len() >= MAX_SESSIONS {
            return Err(AuthError::TemporarilyUnavailable("too many sign-ins in progress; try again shortly".into()));
        }
        sessions.insert(secrets::sha256(&id), session);
        Ok(id)
    }

    /// A copy of a live session.
    pub fn get(&self, id: &str, now: OffsetDateTime) -> Option<LoginSession> {
        let key = secrets::sha256(id);
        let mut sessions = self.lock();
        match sessions.get(&key) {
            Some(s) if s.expires_at > now => Some(s.clone()),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Change a live session in place (atomically with respect to other requests); `None` when it has ended.
    pub fn update<R>(&self, id: &str, now: OffsetDateTime, change: impl FnOnce(&mut LoginSession) -> R) -> Option<R> {
        match self.lock().get_mut(&secrets::sha256(id)) {
            Some(s) if s.expires_at > now => Some(change(s)),
            _ => None,
        }
    }

    /// Move a live session to a fresh id and stage (after sign-in); returns the new id.
    pub fn rekey(&self, id: &str, now: OffsetDateTime, stage: Stage) -> Option<String> {
        let new_id = secrets::random_token().ok()?;
        let mut sessions = self.lock();
        let mut session = sessions.remove(&secrets::sha256(id)).filter(|s| s.expires_at > now)?;
        session.stage = stage;
        sessions.insert(secrets::sha256(&new_id), session);
        Some(new_id)
    }

    /// End a session.
    pub fn end(&self, id: &str) {
        self.lock().remove(&secrets::sha256(id));
    }

    /// Remove a session, returning it if it was live: the last step takes it so a double submit cannot issue twice.
    pub fn take(&self, id: &str, now: OffsetDateTime) -> Option<LoginSession> {
        self.lock().remove(&secrets::sha256(id)).filter(|s| s.expires_at > now)
    }
}

//! The bank's own OAuth 2.0 authorization server and login pages (the gateway is its client).
//!
//! Authorization code flow with PKCE S256 (RFC 6749 §4.1, RFC 7636), `iss` in every authorization response
//! (RFC 9207), client authentication by mutual TLS (RFC 8705 `tls_client_auth`: the client certificate's CN is the
//! `client_id`), bearer access tokens (RFC 6750) bound to the accounts the person chose, refresh tokens that live as
//! long as the consent, and token revocation (RFC 7009). The data-sharing policy of the bank's profile is applied at
//! `/oauth/authorize` to the app named by `recipient`/`platform` (a refusal redirects with `access_denied` and
//! `refusal=data_sharing_policy`). A sandbox-only extension grant (RFC 6749 §4.5, `token::SANDBOX_LOGIN_GRANT`)
//! lets the gateway's sandbox shortcut log a test user in without a browser, with the same outcomes as the pages.
//!
//! Every token response names the person with a pairwise subject identifier `sub` (OpenID Connect Core 1.0 §8.1,
//! [`PairwiseSubjects`]): stable for one customer and one client, unrelated between clients. `scope=openid` alone
//! is a sign-in only: the person signs in (and passes MFA) and the bank redirects back with a code at once, without
//! the account page; the code buys `sub` and nothing else (no consent, no refresh token, an access token that opens
//! no FDX resource). `openid` together with `fdx:*` scopes is refused with `invalid_scope`.
//!
//! Two routers: [`router`] for the login listener (HTTPS, a person's browser: `/oauth/authorize`, `/login`,
//! `/login/mfa`, `/login/accounts`, `/login/consent`) and [`token_router`] for the API listener (HTTPS + required
//! client certificate: `/oauth/token`, `/oauth/revoke`). The rules live in [`AuthServer`]; handlers are thin.
//!
//! Test users (`ledger::users`): every password is `pass_good`; `user_mfa` then needs the one-time code `123456`;
//! `user_locked` sees an "account locked" page; `login_error_<code>` fails with that OAuth error.
//!
//! This module never stores or logs a raw token, code, password or session id, never redirects to a URI that is not
//! registered exactly for the client, and reads time only from the bank's simulated clock.

mod error;
mod pages;
mod params;
mod persist;
pub mod scopes;
mod secrets;
mod service;
mod sessions;
mod subject;
mod token;
mod uri;

pub use error::AuthError;
pub use scopes::DataCluster;
pub use service::{ACCESS_TOKEN_TTL, AuthServer, CODE_TTL, MAX_CONSENT_DAYS, TokenResponse};
pub use sessions::{MAX_MFA_TRIES, MAX_PASSWORD_TRIES, SESSION_TTL};
pub use subject::{PairwiseSubjects, SUB_LEN};

use crate::{ledger::users::ChosenError, state::BankState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;

/// A client of the bank's authorization server (the gateway, or a test app). Its TLS client certificate's CN must
/// equal `client_id`; redirect URIs are matched exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
}

/// What a valid access token lets its holder read: the consent behind it, narrowed to the token's clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct BankGrant {
    pub consent_id: String,
    pub client_id: String,
    pub customer_index: u32,
    /// The accounts the person chose to share: nothing else may be read with this token.
    pub account_ids: Vec<String>,
    pub clusters: Vec<DataCluster>,
    pub purposes: Vec<String>,
    /// The platform the client acts for (the sharing policy may withhold purchases made elsewhere).
    pub platform: Option<String>,
    /// Data-error test users: the error every data call must answer with.
    pub chosen_error: Option<ChosenError>,
    /// When the consent ends.
    pub expires_at: OffsetDateTime,
}

/// A consent the person gave at the bank (what the bank's own "connected apps" view and the admin API show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankConsent {
    pub consent_id: String,
    pub client_id: String,
    pub customer_index: u32,
    pub account_ids: Vec<String>,
    pub clusters: Vec<DataCluster>,
    pub purposes: Vec<String>,
    pub platform: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl BankConsent {
    /// Neither revoked nor expired at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// The login listener: authorization endpoint and the bank's login pages.
pub fn router() -> axum::Router<Arc<BankState>> {
    pages::router()
}

/// The API listener's OAuth endpoints (client certificate required): `POST /oauth/token`, `POST /oauth/revoke`.
pub fn token_router() -> axum::Router<Arc<BankState>> {
    token::router()
}

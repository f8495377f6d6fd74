//! RFC 9068 JWT access tokens: the format the gateway issues (documented choice: a JWT rather than an opaque
//! handle, so the resource API can check signature, expiry and binding without a store round trip; revocation is
//! still checked against the store by consent id and `jti`).
//!
//! Claims: `iss`, `sub` (the person), `aud` (the resource API), `exp`, `iat`, `jti`, `client_id`, `scope`,
//! `consent_id`, and `cnf` (RFC 7800) holding `jkt` (DPoP, RFC 9449 §6.1) or `x5t#S256` (mTLS, RFC 8705 §3.1);
//! header `typ: at+jwt` (RFC 9068 §2.1), signed ES256 by the [`KeySet`]'s active key. This module must never
//! accept a token without a verified signature from our own keys, without `typ: at+jwt`, or past `exp`; and never
//! log a token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::error::{OAuthError, OAuthErrorCode};
use super::keys::{KeyError, KeySet};

/// RFC 9068 §2.1: the JOSE `typ` of a JWT access token.
pub const ACCESS_TOKEN_JWT_TYPE: &str = "at+jwt";

/// RFC 7800 confirmation: how the token is sender-constrained. Serializes as `{"jkt": ...}` or `{"x5t#S256": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Confirmation {
    /// RFC 9449 §6.1: the DPoP key's JWK SHA-256 thumbprint.
    #[serde(rename = "jkt")]
    Jkt(String),
    /// RFC 8705 §3.1: the client certificate's SHA-256 thumbprint.
    #[serde(rename = "x5t#S256")]
    X5tS256(String),
}

/// The claims of a gateway access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    pub consent_id: String,
    /// Absent only for `sandbox` clients' plain bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// A fresh random `jti`: 16 bytes from the OS, base64url.
pub fn new_jti() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Why an access token was refused (all `invalid_token`, RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("the access token is not a valid token of this server")]
    Invalid,
    #[error("the access token was issued by another issuer")]
    WrongIssuer,
    #[error("the access token is not meant for this resource")]
    WrongAudience,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is issued in the future")]
    IssuedInFuture,
}

impl AccessTokenError {
    /// The RFC 6750 error body.
    pub fn oauth_error(&self) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidToken, self.to_string())
    }
}

/// Signs `claims` with the active key as `typ: at+jwt`.
pub fn issue(keys: &KeySet, claims: &AccessTokenClaims) -> Result<String, KeyError> {
    keys.sign(ACCESS_TOKEN_JWT_TYPE, claims)
}

/// RFC 9068 §4: verifies signature (by `kid`, active or previous key), `typ`, `iss`, `aud`, `exp` (and `iat` no
/// more than 60 s ahead). The caller still checks revocation, consent status and the `cnf` binding.
pub fn verify(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: &str,
    now: OffsetDateTime,
) -> Result<AccessTokenClaims, AccessTokenError> {
    let jws = keys.verify(token, ACCESS_TOKEN_JWT_TYPE).map_err(|_| AccessTokenError::Invalid)?;
    let claims: AccessTokenClaims =
        serde_json::from_value(Value::Object(jws.claims)).map_err(|_| AccessTokenError::Invalid)?;
    if claims.iss != issuer {
        return Err(AccessTokenError::WrongIssuer);
    }
    if claims.aud != audience {
        return Err(AccessTokenError::WrongAudience);
    }
    check_times(&claims, now)?;
    Ok(claims)
}

/// The time checks of [`verify`] alone (`exp` passed, `iat` no more than 60 s ahead), for claims verified earlier.
pub fn check_times(claims: &AccessTokenClaims, now: OffsetDateTime) -> Result<(), AccessTokenError> {
    let now_s = now.unix_timestamp();
    if claims.exp <= now_s {
        return Err(AccessTokenError::Expired);
    }
    if claims.iat > now_s.saturating_add(60) {
        return Err(AccessTokenError::IssuedInFuture);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::keys::SigningKey;
    use time::Duration;

    fn claims(now: OffsetDateTime) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://gw.example".into(),
            sub: "person-1".into(),
            aud: "https://gw.example/fdx/v6".into(),
            exp: (now + Duration::minutes(5)).unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: new_jti().expect("rng"),
            client_id: "budget-app".into(),
            scope: "fdx:accountbasic:read".into(),
            consent_id: "c-1".into(),
            cnf: Some(Confirmation::Jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into())),
        }
    }

    #[test]
    fn issued_token_verifies_with_cnf_and_is_refused_after_expiry_or_for_another_audience() {
        let keys = KeySet::new(SigningKey::generate_es256().expect("key"));
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let c = claims(now);
        let token = issue(&keys, &c).expect("sign");
        let payload = token.split('.').nth(1).expect("payload");
        let json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        assert_eq!(json["cnf"]["jkt"], "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
        assert_eq!(json["consent_id"], "c-1");
        let verified = verify(&keys, &token, "https://gw.example", "https://gw.example/fdx/v6", now).expect("valid");
        assert_eq!(verified, c);
        let later = now + Duration::minutes(5);
        assert_eq!(verify(&keys, &token, &c.iss, &c.aud, later), Err(AccessTokenError::Expired));
        assert_eq!(verify(&keys, &token, &c.iss, "https://other", now), Err(AccessTokenError::WrongAudience));
        assert_eq!(verify(&keys, &token, "https://evil", &c.aud, now), Err(AccessTokenError::WrongIssuer));
        let other_keys = KeySet::new(SigningKey::generate_es256().expect("key"));
        assert_eq!(verify(&other_keys, &token, &c.iss, &c.aud, now), Err(AccessTokenError::Invalid));
        assert_eq!(
            verify(&keys, &token, &c.iss, "x", now).map_err(|e| e.oauth_error().error),
            Err(OAuthErrorCode::InvalidToken)
        );
    }

    #[test]
    fn a_token_with_another_typ_is_not_an_access_token() {
        let keys = KeySet::new(SigningKey::generate_es256().expect("key"));
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let c = claims(now);
        let id_token_like = keys.sign("JWT", &c).expect("sign");
        assert_eq!(verify(&keys, &id_token_like, &c.iss, &c.aud, now), Err(AccessTokenError::Invalid));
        let mtls = AccessTokenClaims { cnf: Some(Confirmation::X5tS256("abc".into())), ..c };
        let json = serde_json::to_value(&mtls).expect("json");
        assert_eq!(json["cnf"], serde_json::json!({"x5t#S256": "abc"}));
    }
}

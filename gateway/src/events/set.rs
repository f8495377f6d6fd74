//! Webhook bodies as RFC 8417 Security Event Tokens: a compact JWS (RFC 7515) signed ES256 with the gateway's
//! active signing key (the one its access tokens are signed with, published at `/jwks`), so an app verifies a
//! webhook with the gateway's JWKS exactly as it would verify any gateway JWT.
//!
//! Header: `alg: ES256`, `typ: secevent+jwt` (RFC 8417 §2.3), `kid`. Claims (RFC 8417 §2.2): `iss` (the gateway's
//! issuer), `aud` (the app's client_id), `iat`, `jti` (= the FDX `notificationId`, so a receiver de-duplicates
//! redeliveries by it), `toe` (the bank's `sentOn`, when it parses), and `events` with exactly one member,
//! [`EVENT_TYPE`], whose value is the FDX `Notificationentity` as the app may see it. Delivered by RFC 8935 push
//! ([`super::delivery`]). This module must never sign with a key other than the gateway's own.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::oauth::keys::{KeyError, KeySet};

/// RFC 8417 §2.3: the JOSE `typ` of a SET.
pub const SET_TYPE: &str = "secevent+jwt";
/// RFC 8935 §2: the media type of a pushed SET.
pub const SET_CONTENT_TYPE: &str = "application/secevent+jwt";
/// The event type URI of an FDX notification (RFC 8417 §2.2 `events` member name).
pub const EVENT_TYPE: &str = "https://bankgate.dev/secevent/fdx-notification";

/// RFC 8417 §2.2 claims of a notification SET.
#[derive(Debug, Serialize)]
struct SetClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    toe: Option<i64>,
    events: Map<String, Value>,
}

/// Signs `notification` (FDX `Notificationentity` JSON, app-visible) as a SET for the app `client_id`.
pub fn sign_notification(
    keys: &KeySet,
    issuer: &str,
    client_id: &str,
    notification_id: &str,
    notification: &Value,
    now: OffsetDateTime,
) -> Result<String, KeyError> {
    let toe = notification
        .get("sentOn")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(OffsetDateTime::unix_timestamp);
    let mut events = Map::new();
    events.insert(EVENT_TYPE.to_owned(), notification.clone());
    let claims =
        SetClaims { iss: issuer, aud: client_id, iat: now.unix_timestamp(), jti: notification_id, toe, events };
    keys.sign(SET_TYPE, &claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::keys::SigningKey;
    use serde_json::json;

    #[test]
    fn a_set_verifies_with_the_gateway_keys_and_carries_the_notification() {
        let keys = KeySet::new(SigningKey::generate_es256().expect("key"));
        let now = OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("instant");
        let n = json!({"notificationId": "n-1", "sentOn": "2026-06-01T00:00:10Z", "type": "RISK"});
        let set = sign_notification(&keys, "https://gw.test", "app-1", "n-1", &n, now).expect("signed");
        let jws = keys.verify(&set, SET_TYPE).expect("verifies");
        assert_eq!(jws.header_str("kid"), Some(keys.active().kid()));
        assert_eq!(jws.claims["iss"], "https://gw.test");
        assert_eq!(jws.claims["aud"], "app-1");
        assert_eq!(jws.claims["jti"], "n-1");
        assert_eq!(jws.claims["iat"], 1_780_272_000);
        assert_eq!(jws.claims["toe"], 1_780_272_010);
        assert_eq!(jws.claims["events"][EVENT_TYPE], n);
    }
}

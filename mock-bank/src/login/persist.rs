//! SQL for the bank's authorization server (tables of `migrations/0002_auth.sql`): clients, consents and tokens.
//!
//! Runtime `sqlx::query` with `$n` placeholders. Tokens are written and read as SHA-256 hashes only: a raw token never
//! reaches this module. Instants are Unix seconds of the simulated clock. Authorization codes and login sessions are
//! never persisted.

use super::{BankConsent, DataCluster, OAuthClient};
use crate::ledger::users::ChosenError;
use sqlx::{Row as _, SqlitePool};
use time::OffsetDateTime;

/// What a stored token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// A token as stored (its hash is the key).
#[derive(Debug, Clone)]
pub(crate) struct StoredToken {
    pub hash: [u8; 32],
    pub kind: TokenKind,
    pub consent_id: String,
    pub client_id: String,
    pub clusters: Vec<DataCluster>,
    pub expires_at: OffsetDateTime,
}

/// A consent with the test-user error it carries.
#[derive(Debug, Clone)]
pub(crate) struct StoredConsent {
    pub consent: BankConsent,
    pub chosen_error: Option<ChosenError>,
}

type Result<T> = std::result::Result<T, anyhow::Error>;

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

fn instant(seconds: i64) -> Result<OffsetDateTime> {
    Ok(OffsetDateTime::from_unix_timestamp(seconds)?)
}

fn encode_chosen_error(error: &Option<ChosenError>) -> Option<String> {
    match error {
        None => None,
        Some(ChosenError::Data { status, fdx_code }) => Some(format!("data:{status}:{fdx_code}")),
        Some(ChosenError::Login { oauth_error }) => Some(format!("login:{oauth_error}")),
    }
}

fn decode_chosen_error(text: Option<String>) -> Result<Option<ChosenError>> {
    let Some(text) = text else { return Ok(None) };
    if let Some(rest) = text.strip_prefix("data:") {
        let (status, code) = rest.split_once(':').ok_or_else(|| anyhow::anyhow!("bad chosen_error {text}"))?;
        return Ok(Some(ChosenError::Data { status: status.parse()?, fdx_code: code.parse()? }));
    }
    if let Some(code) = text.strip_prefix("login:") {
        return Ok(Some(ChosenError::Login { oauth_error: code.to_owned() }));
    }
    anyhow::bail!("bad chosen_error {text}")
}

pub(crate) async fn load_clients(pool: &SqlitePool) -> Result<Vec<OAuthClient>> {
    let rows =
        sqlx::query("SELECT client_id, redirect_uris FROM auth_clients ORDER BY client_id").fetch_all(pool).await?;
    rows.into_iter()
        .map(|row| {
            let uris: String = row.try_get("redirect_uris")?;
            Ok(OAuthClient { client_id: row.try_get("client_id")?, redirect_uris: serde_json::from_str(&uris)? })
        })
        .collect()
}

pub(crate) async fn upsert_client(pool: &SqlitePool, client: &OAuthClient) -> Result<()> {
    sqlx::query(
        "INSERT INTO auth_clients (client_id, redirect_uris) VALUES ($1, $2)
         ON CONFLICT (client_id) DO UPDATE SET redirect_uris = excluded.redirect_uris",
    )
    .bind(&client.client_id)
    .bind(to_json(&client.redirect_uris)?)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn load_consents(pool: &SqlitePool) -> Result<Vec<StoredConsent>> {
    let rows = sqlx::query(
        "SELECT consent_id, client_id, customer_index, account_ids, clusters, purposes, platform, chosen_error,
                created_at, expires_at, revoked_at
         FROM auth_consents",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let account_ids: String = row.try_get("account_ids")?;
            let clusters: String = row.try_get("clusters")?;
            let purposes: String = row.try_get("purposes")?;
            let revoked_at: Option<i64> = row.try_get("revoked_at")?;
            let customer_index: i64 = row.try_get("customer_index")?;
            let consent = BankConsent {
                consent_id: row.try_get("consent_id")?,
                client_id: row.try_get("client_id")?,
                customer_index: u32::try_from(customer_index)?,
                account_ids: serde_json::from_str(&account_ids)?,
                clusters: serde_json::from_str(&clusters)?,
                purposes: serde_json::from_str(&purposes)?,
                platform: row.try_get("platform")?,
                created_at: instant(row.try_get("created_at")?)?,
                expires_at: instant(row.try_get("expires_at")?)?,
                revoked_at: revoked_at.map(instant).transpose()?,
            };
            Ok(StoredConsent { consent, chosen_error: decode_chosen_error(row.try_get("chosen_error")?)? })
        })
        .collect()
}

/// Tokens not revoked (expired ones included: the caller decides).
pub(crate) async fn load_live_tokens(pool: &SqlitePool) -> Result<Vec<StoredToken>> {
    let rows = sqlx::query(
        "SELECT token_hash, kind, consent_id, client_id, clusters, expires_at FROM auth_tokens WHERE revoked_at IS NULL",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let hash: Vec<u8> = row.try_get("token_hash")?;
            let kind: String = row.try_get("kind")?;
            let clusters: String = row.try_get("clusters")?;
            Ok(StoredToken {
                hash: hash.try_into().map_err(|_| anyhow::anyhow!("token hash is not 32 bytes"))?,
                kind: if kind == "refresh" { TokenKind::Refresh } else { TokenKind::Access },
                consent_id: row.try_get("consent_id")?,
                client_id: row.try_get("client_id")?,
                clusters: serde_json::from_str(&clusters)?,
                expires_at: instant(row.try_get("expires_at")?)?,
            })
        })
        .collect()
}

/// A new consent and its first tokens, in one transaction.
pub(crate) async fn insert_consent(pool: &SqlitePool, consent: &StoredConsent, tokens: &[&StoredToken]) -> Result<()> {
    let c = &consent.consent;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO auth_consents (consent_id, client_id, customer_index, account_ids, clusters, purposes, platform,
                                    chosen_error, created_at, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
    )
    .bind(&c.consent_id)
    .bind(&c.client_id)
    .bind(i64::from(c.customer_index))
    .bind(to_json(&c.account_ids)?)
    .bind(to_json(&c.clusters)?)
    .bind(to_json(&c.purposes)?)
    .bind(&c.platform)
    .bind(encode_chosen_error(&consent.chosen_error))
    .bind(c.created_at.unix_timestamp())
    .bind(c.expires_at.unix_timestamp())
    .execute(&mut *tx)
    .await?;
    for token in tokens {
        insert_token_in(&mut tx, token).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn insert_token(pool: &SqlitePool, token: &StoredToken) -> Result<()> {
    let mut tx = pool.begin().await?;
    insert_token_in(&mut tx, token).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_token_in(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, token: &StoredToken) -> Result<()> {
    sqlx::query(
        "INSERT INTO auth_tokens (token_hash, kind, consent_id, client_id, clusters, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(token.hash.as_slice())
    .bind(token.kind.as_str())
    .bind(&token.consent_id)
    .bind(&token.client_id)
    .bind(to_json(&token.clusters)?)
    .bind(token.expires_at.unix_timestamp())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Mark a consent revoked (first revocation wins) and its tokens with it.
pub(crate) async fn revoke_consent(pool: &SqlitePool, consent_id: &str, at: OffsetDateTime) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE auth_consents SET revoked_at = $1 WHERE consent_id = $2 AND revoked_at IS NULL")
        .bind(at.unix_timestamp())
        .bind(consent_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE auth_tokens SET revoked_at = $1 WHERE consent_id = $2 AND revoked_at IS NULL")
        .bind(at.unix_timestamp())
        .bind(consent_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn revoke_token(pool: &SqlitePool, hash: &[u8; 32], at: OffsetDateTime) -> Result<()> {
    sqlx::query("UPDATE auth_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
        .bind(at.unix_timestamp())
        .bind(hash.as_slice())
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_errors_round_trip() {
        for error in [
            None,
            Some(ChosenError::Data { status: 429, fdx_code: 1207 }),
            Some(ChosenError::Login { oauth_error: "server_error".into() }),
        ] {
            assert_eq!(decode_chosen_error(encode_chosen_error(&error)).unwrap(), error);
        }
        assert!(decode_chosen_error(Some("data:x".into())).is_err());
    }
}

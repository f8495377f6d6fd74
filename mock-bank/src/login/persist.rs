//! SQL for the bank's authorization server (tables of `migrations/0002_auth.sql`): clients, consents and tokens.
//!
//! Runtime `sqlx::query` with `$n` placeholders. Tokens are written and read as SHA-256 hashes only: a raw token never
//! reaches this module. Instants are Unix seconds of the simulated clock. Authorization codes and login sessions are
//! never persisted.

use super::{BankConsent, DataCluster, OAuthClient};
use crate::ledger::users::ChosenError;
use crate::store::BankStore;
use sqlx::{Row as _, SqliteConnection, SqlitePool};
use std::sync::Arc;
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

/// Stores a new consent and its first tokens (all or nothing) and returns once that is committed: the bank's
/// group commit ([`BankStore::commit`]) shares one flush among every write queued meanwhile.
pub(crate) async fn insert_consent(store: &BankStore, consent: StoredConsent, tokens: Vec<StoredToken>) -> Result<()> {
    let written = Arc::new((consent, tokens));
    store
        .commit(Box::new(move |conn| {
            let written = Arc::clone(&written);
            Box::pin(async move { insert_consent_in(conn, &written.0, &written.1).await })
        }))
        .await
}

/// A new consent and its first tokens.
async fn insert_consent_in(conn: &mut SqliteConnection, consent: &StoredConsent, tokens: &[StoredToken]) -> Result<()> {
    let c = &consent.consent;
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
    .execute(&mut *conn)
    .await?;
    for token in tokens {
        insert_token_in(conn, token).await?;
    }
    Ok(())
}

pub(crate) async fn insert_token(pool: &SqlitePool, token: &StoredToken) -> Result<()> {
    let mut conn = pool.acquire().await?;
    insert_token_in(&mut conn, token).await
}

async fn insert_token_in(conn: &mut SqliteConnection, token: &StoredToken) -> Result<()> {
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
    .execute(&mut *conn)
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
    use crate::store::BankStore;

    fn consent(id: &str) -> StoredConsent {
        let at = time::macros::datetime!(2026-03-02 09:00 UTC);
        let consent = BankConsent {
            consent_id: id.to_owned(),
            client_id: "app".into(),
            customer_index: 7,
            account_ids: vec!["acc-1".into()],
            clusters: vec![DataCluster::AccountBasic],
            purposes: vec!["fraud_alerts".into()],
            platform: None,
            created_at: at,
            expires_at: at + time::Duration::days(90),
            revoked_at: None,
        };
        StoredConsent { consent, chosen_error: None }
    }

    fn token_of(consent: &StoredConsent, kind: TokenKind) -> StoredToken {
        let mut hash = [0u8; 32];
        let tag = format!("{}-{}", consent.consent.consent_id, kind.as_str());
        hash[..tag.len().min(32)].copy_from_slice(&tag.as_bytes()[..tag.len().min(32)]);
        StoredToken {
            hash,
            kind,
            consent_id: consent.consent.consent_id.clone(),
            client_id: "app".into(),
            clusters: vec![DataCluster::AccountBasic],
            expires_at: consent.consent.expires_at,
        }
    }

    async fn count(store: &BankStore, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    /// Queues `ids` while the writer connection is held (so they all join one write task), then releases it and
    /// returns each caller's answer.
    async fn one_batch(store: &BankStore, ids: &[String]) -> Vec<Result<()>> {
        let held = store.writer().acquire().await.unwrap();
        let callers: Vec<_> = ids
            .iter()
            .map(|id| {
                let (store, c) = (store.clone(), consent(id));
                let tokens = vec![token_of(&c, TokenKind::Access), token_of(&c, TokenKind::Refresh)];
                tokio::spawn(async move { insert_consent(&store, c, tokens).await })
            })
            .collect();
        // Every caller has queued (a condition, not a time: bounded by the number of scheduler turns).
        for _ in 0..10_000 {
            if store.queued_writes() == ids.len() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(store.queued_writes(), ids.len(), "every consent queued behind the held writer");
        drop(held);
        let mut answers = Vec::new();
        for caller in callers {
            answers.push(caller.await.unwrap());
        }
        answers
    }

    /// Consents queued together commit in one transaction: each caller is answered after it, all are stored with
    /// their tokens; when one of them fails (a duplicate id) it alone gets the error and the others of its batch are
    /// stored all the same, each with its tokens.
    #[tokio::test]
    async fn consents_queued_together_commit_together_and_a_bad_one_fails_alone() {
        let store = BankStore::open(None).await.unwrap();
        let ids: Vec<String> = (0..20).map(|i| format!("bc_{i}")).collect();
        let answers = one_batch(&store, &ids).await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert_eq!((count(&store, "auth_consents").await, count(&store, "auth_tokens").await), (20, 40));

        let mut ids: Vec<String> = (20..25).map(|i| format!("bc_{i}")).collect();
        ids.push("bc_3".into());
        let answers = one_batch(&store, &ids).await;
        assert!(answers[..5].iter().all(Result::is_ok), "{answers:?}");
        assert!(answers[5].is_err(), "the duplicate fails: {answers:?}");
        assert_eq!((count(&store, "auth_consents").await, count(&store, "auth_tokens").await), (25, 50));

        let next = consent("bc_next");
        let tokens = vec![token_of(&next, TokenKind::Access)];
        insert_consent(&store, next, tokens).await.unwrap();
        assert_eq!(count(&store, "auth_consents").await, 26);
        let duplicate = consent("bc_next");
        let tokens = vec![token_of(&duplicate, TokenKind::Refresh)];
        assert!(insert_consent(&store, duplicate, tokens).await.is_err(), "alone, it fails alone");
        assert_eq!((count(&store, "auth_consents").await, count(&store, "auth_tokens").await), (26, 51));
    }

    /// Writes of different kinds queued together (a consent flow's new consent and a notification subscription)
    /// share one transaction, and each caller learns its own outcome.
    #[tokio::test]
    async fn a_consent_and_a_subscription_queued_together_commit_together() {
        let store = BankStore::open(None).await.unwrap();
        let held = store.writer().acquire().await.unwrap();
        let c = consent("bc_mixed");
        let tokens = vec![token_of(&c, TokenKind::Access)];
        let consent_write = tokio::spawn({
            let store = store.clone();
            async move { insert_consent(&store, c, tokens).await }
        });
        let subscription_write = tokio::spawn({
            let store = store.clone();
            async move { store.upsert_subscription("sub-1", "bc_mixed", "CONSENT_REVOKED", "{}").await }
        });
        for _ in 0..10_000 {
            if store.queued_writes() == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(store.queued_writes(), 2, "both queued behind the held writer");
        drop(held);
        consent_write.await.unwrap().unwrap();
        subscription_write.await.unwrap().unwrap();
        assert_eq!(store.queued_writes(), 0);
        let counts = (count(&store, "auth_consents").await, count(&store, "notification_subscriptions").await);
        assert_eq!(counts, (1, 1));
    }

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

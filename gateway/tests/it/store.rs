//! Conformance suite for the gateway's `Store`: every check is written against `&dyn Store` so the PostgreSQL
//! implementation can run the same functions. Here they run against SQLite in memory and on disk.
//!
//! What a user would notice: a `request_uri` or code works exactly once, a replayed code kills the tokens it gave,
//! revoking a consent stops its tokens at once, replayed `jti`s are refused, bank tokens are unreadable on disk and
//! everything acknowledged survives a restart.

use gateway::consent::DataCluster;
use gateway::consent::{
    Authorization, Consent, ConsentRequest, ConsentStatus, ConsentSubject, Initiator, LifecycleError, RevocationReason,
};
use gateway::store::{
    Approval, AttemptOutcome, AuditOutcome, AuditRecord, BankSubscribingState, BankSubscriptionRecord, BankTokens,
    ClientProfile, ClientRecord, CodeRecord, CodeRedemption, ConsentApproval, ConsentRevocationOutcome, DeliveryState,
    DynStore, EnqueueOutcome, EventRecord, JtiKind, ParRecord, ParUse, SealKey, SqliteStore, Store, StoreError,
    SubscriptionRecord, TokenBinding, TokenHash, TokenKind, TokenRecord,
};
use serde_json::json;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

fn key() -> SealKey {
    SealKey::from_bytes(&[42u8; 32]).unwrap()
}

async fn memory_store() -> SqliteStore {
    SqliteStore::in_memory(key()).await.unwrap()
}

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        metadata: json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
        registration_token_hash: Some(TokenHash::of(&format!("rat-{id}"))),
        profile: ClientProfile::Fapi2,
        created_at: T0,
        updated_at: T0,
    }
}

fn request() -> ConsentRequest {
    ConsentRequest::from_authorization_details(
        r#"[{"type":"fdx_consent","dataClusters":["ACCOUNT_BASIC","TRANSACTIONS"],"durationType":"TIME_BOUND",
            "durationPeriod":90,"lookbackPeriod":365,"purposes":["fraud_alerts","balance_display"],
            "accounts":["acc-1","acc-2"]}]"#,
    )
    .unwrap()
}

/// A client and an AUTHORIZED consent for it, stored.
async fn authorized_consent(store: &dyn Store, client_id: &str, consent_id: &str) -> Consent {
    if store.client(client_id).await.unwrap().is_none() {
        store.insert_client(&client(client_id)).await.unwrap();
    }
    let mut consent = Consent::new(consent_id.into(), client_id.into(), request(), T0);
    store.insert_consent(&consent).await.unwrap();
    consent
        .authorize(
            Authorization {
                subject: ConsentSubject { person: "user_good".into(), bank: "first-national".into() },
                accounts: vec!["acc-1".into()],
                secondary_use_opt_in: false,
            },
            T0 + Duration::minutes(2),
        )
        .unwrap();
    assert!(store.update_consent(&consent, ConsentStatus::Pending).await.unwrap());
    consent
}

fn code(client_id: &str, consent_id: &str, secret: &str) -> CodeRecord {
    CodeRecord {
        code_hash: TokenHash::of(secret),
        client_id: client_id.into(),
        consent_id: consent_id.into(),
        pkce_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        redirect_uri: "https://app.example/cb".into(),
        dpop_jkt: Some("jkt-1".into()),
        expires_at: T0 + Duration::minutes(3),
        used_at: None,
    }
}

fn token(secret: &str, client_id: &str, consent_id: Option<&str>, parent: Option<&str>) -> TokenRecord {
    TokenRecord {
        token_hash: TokenHash::of(secret),
        kind: TokenKind::Access,
        client_id: client_id.into(),
        consent_id: consent_id.map(str::to_owned),
        scope: "fdx:accountbasic:read fdx:transactions:read".into(),
        binding: TokenBinding::Dpop { jkt: "jkt-1".into() },
        issued_at: T0 + Duration::minutes(2),
        expires_at: T0 + Duration::minutes(7),
        revoked_at: None,
        parent_code: parent.map(TokenHash::of),
    }
}

fn bank_tokens() -> BankTokens {
    BankTokens {
        bank: "first-national".into(),
        access_token: "BANK-ACCESS-TOKEN-plaintext-7f3a".into(),
        refresh_token: Some("BANK-REFRESH-TOKEN-plaintext-91bc".into()),
        expires_at: Some(T0 + Duration::hours(1)),
        scope: "fdx:accountbasic:read".into(),
    }
}

// ---- the conformance checks (backend-independent) ----

fn subscription(id: &str, consent: &str, kind: &str, category: &str) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.into(),
        consent_id: consent.into(),
        client_id: "app-1".into(),
        notification_type: kind.into(),
        category: category.into(),
        callback_url: format!("https://app.example/hooks/{id}"),
        created_at: T0,
    }
}

fn event(consent: &str, id: &str, kind: &str) -> EventRecord {
    EventRecord {
        seq: 0,
        consent_id: consent.into(),
        notification_id: id.into(),
        notification_type: kind.into(),
        body: json!({"notificationId": id, "type": kind}),
        received_at: T0,
        acked_at: None,
    }
}

async fn check_notification_subscriptions_and_events(store: &dyn Store) {
    authorized_consent(store, "app-1", "c1").await;
    authorized_consent(store, "app-1", "c2").await;
    let risk = subscription("s-risk", "c1", "RISK", "FRAUD");
    store.insert_subscription(&risk).await.unwrap();
    store.insert_subscription(&subscription("s-risk-2", "c1", "RISK", "FRAUD")).await.unwrap();
    store.insert_subscription(&subscription("s-balance", "c1", "BALANCE", "NEW_DATA")).await.unwrap();
    store.insert_subscription(&subscription("s-other", "c2", "RISK", "FRAUD")).await.unwrap();
    assert_eq!(store.subscription("s-risk").await.unwrap(), Some(risk.clone()));
    assert!(matches!(store.insert_subscription(&risk).await, Err(StoreError::Duplicate)));
    let orphan = subscription("s-x", "no-such-consent", "RISK", "FRAUD");
    assert!(matches!(store.insert_subscription(&orphan).await, Err(StoreError::Missing(_))));

    // One delivery per matching subscription of the same consent; idempotent by notificationId.
    let now = T0 + Duration::minutes(3);
    let outcome = store.enqueue_event(&event("c1", "n-1", "RISK"), "FRAUD", now, None).await.unwrap();
    assert_eq!(outcome, EnqueueOutcome::New { deliveries: 2 });
    assert_eq!(
        store.enqueue_event(&event("c1", "n-1", "RISK"), "FRAUD", now, None).await.unwrap(),
        EnqueueOutcome::Duplicate
    );
    // The same id under another consent is another event.
    assert_eq!(
        store.enqueue_event(&event("c2", "n-1", "RISK"), "FRAUD", now, None).await.unwrap(),
        EnqueueOutcome::New { deliveries: 1 }
    );
    store.enqueue_event(&event("c1", "n-2", "RISK"), "FRAUD", now, None).await.unwrap();
    store.enqueue_event(&event("c1", "r-1", "CONSENT_REVOKED"), "CONSENT", now, None).await.unwrap();

    let pending = store.pending_deliveries_after(0, 100).await.unwrap();
    let of = |sub: &str| -> Vec<(String, i64)> {
        pending.iter().filter(|d| d.subscription_id == sub).map(|d| (d.notification_id.clone(), d.seq)).collect()
    };
    assert_eq!(of("s-risk"), [("n-1".to_owned(), 1), ("n-2".to_owned(), 2)]);
    assert_eq!(of("s-risk-2"), [("n-1".to_owned(), 1), ("n-2".to_owned(), 2)]);
    assert_eq!(of("s-other"), [("n-1".to_owned(), 1)]);
    assert!(of("s-balance").is_empty());
    assert!(pending.windows(2).all(|w| w[0].id < w[1].id), "in enqueue order");
    let first = &pending[0];
    assert_eq!((first.client_id.as_str(), first.callback_url.as_str()), ("app-1", "https://app.example/hooks/s-risk"));
    assert_eq!(first.body["notificationId"], "n-1");
    assert_eq!(first.attempts, 0);
    assert_eq!(first.next_attempt_at, now);
    let cursor = pending[1].id;
    assert!(store.pending_deliveries_after(cursor, 100).await.unwrap().iter().all(|d| d.id > cursor));
    assert_eq!(store.pending_deliveries_after(0, 1).await.unwrap().len(), 1);

    // Attempts: a retry counts and reschedules, delivered and dead leave the pending list, dead shows.
    let later = now + Duration::milliseconds(1500);
    let retry = AttemptOutcome::Retry { next_attempt_at: later, error: "HTTP 500".into() };
    store.record_attempt(first.id, &retry, now).await.unwrap();
    let again = store.pending_deliveries_after(0, 100).await.unwrap();
    let head = again.iter().find(|d| d.id == first.id).unwrap();
    assert_eq!((head.attempts, head.next_attempt_at), (1, later));
    store.record_attempt(first.id, &AttemptOutcome::Dead { error: "HTTP 503".into() }, later).await.unwrap();
    let second = again.iter().find(|d| d.subscription_id == "s-risk" && d.seq == 2).unwrap();
    store.record_attempt(second.id, &AttemptOutcome::Delivered, later).await.unwrap();
    let dead = store.dead_deliveries("s-risk", 100).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].notification_id.as_str(), dead[0].attempts), ("n-1", 2));
    assert_eq!((dead[0].state, dead[0].last_error.as_deref()), (DeliveryState::Dead, Some("HTTP 503")));
    assert_eq!(dead[0].updated_at, later);
    assert_eq!(dead[0].body["notificationId"], "n-1");
    // A finished delivery is not changed by a late outcome.
    store.record_attempt(first.id, &AttemptOutcome::Delivered, later).await.unwrap();
    assert_eq!(store.dead_deliveries("s-risk", 100).await.unwrap().len(), 1);

    // Polling: unacknowledged events in order, pages by cursor, acknowledgement is per consent and idempotent.
    let events = store.unacked_events("c1", 0, 10).await.unwrap();
    let ids: Vec<&str> = events.iter().map(|e| e.notification_id.as_str()).collect();
    assert_eq!(ids, ["n-1", "n-2", "r-1"]);
    assert_eq!(store.count_unacked_events("c1").await.unwrap(), 3);
    let page2 = store.unacked_events("c1", events[0].seq, 1).await.unwrap();
    assert_eq!(page2[0].notification_id, "n-2");
    let acked = ["n-1".to_owned(), "r-1".to_owned(), "unknown".to_owned()];
    assert_eq!(store.ack_events("c1", &acked, later).await.unwrap(), 2);
    assert_eq!(store.ack_events("c1", &acked, later).await.unwrap(), 0);
    assert_eq!(store.count_unacked_events("c1").await.unwrap(), 1);
    assert_eq!(store.count_unacked_events("c2").await.unwrap(), 1, "another consent's event untouched");

    // Revocation cancels pending deliveries in its transaction, except the CONSENT_REVOKED news.
    store.insert_subscription(&subscription("s-revoked", "c1", "CONSENT_REVOKED", "CONSENT")).await.unwrap();
    store.enqueue_event(&event("c1", "r-2", "CONSENT_REVOKED"), "CONSENT", later, None).await.unwrap();
    store.enqueue_event(&event("c1", "n-3", "RISK"), "FRAUD", later, None).await.unwrap();
    store.revoke_consent("c1", RevocationReason::UserAction, Initiator::Person, later).await.unwrap();
    let left: Vec<(String, String)> = store
        .pending_deliveries_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.consent_id == "c1")
        .map(|d| (d.subscription_id, d.notification_id))
        .collect();
    assert_eq!(left, [("s-revoked".to_owned(), "r-2".to_owned())]);
    assert_eq!(store.cancel_deliveries("c2", later).await.unwrap(), 1);
    assert!(store.pending_deliveries_after(0, 100).await.unwrap().iter().all(|d| d.consent_id != "c2"));

    // Deleting a subscription takes its deliveries with it.
    assert!(store.delete_subscription("s-risk").await.unwrap());
    assert!(!store.delete_subscription("s-risk").await.unwrap());
    assert_eq!(store.subscription("s-risk").await.unwrap(), None);
    assert!(store.dead_deliveries("s-risk", 100).await.unwrap().is_empty());
}

fn bank_subscription(id: &str, kind: &str, category: &str, at: OffsetDateTime) -> BankSubscriptionRecord {
    BankSubscriptionRecord {
        subscription_id: id.into(),
        notification_type: kind.into(),
        category: category.into(),
        created_at: at,
    }
}

/// The gateway's own subscriptions at banks: recorded one by one while subscribing, settled, and ended exactly once
/// (the revocation that ends them gets them, a racing one gets nothing, and a late subscribing records nothing).
async fn check_bank_subscriptions(store: &dyn Store) {
    authorized_consent(store, "app-1", "c1").await;
    authorized_consent(store, "app-1", "c2").await;
    let t1 = T0 + Duration::minutes(3);
    assert_eq!(store.bank_subscriptions("c1").await.unwrap(), None);
    assert!(matches!(store.begin_bank_subscribing("ghost", t1).await, Err(StoreError::Missing(_))));
    let revoked = bank_subscription("bs-1", "CONSENT_REVOKED", "CONSENT", t1);
    let risk = bank_subscription("bs-2", "RISK", "FRAUD", t1 + Duration::seconds(1));
    assert!(!store.add_bank_subscription("c1", &revoked, t1).await.unwrap(), "nothing recorded before it begins");
    assert!(store.begin_bank_subscribing("c1", t1).await.unwrap());
    assert!(store.add_bank_subscription("c1", &revoked, t1).await.unwrap());
    assert!(store.add_bank_subscription("c1", &risk, t1).await.unwrap());
    let pending = store.bank_subscriptions("c1").await.unwrap().unwrap();
    assert_eq!(
        (pending.state, pending.subscriptions.clone()),
        (BankSubscribingState::Pending, vec![revoked.clone(), risk.clone()])
    );
    assert!(store.settle_bank_subscribing("c1", Some("the bank refused BALANCE with 500"), t1).await.unwrap());
    let failed = store.bank_subscriptions("c1").await.unwrap().unwrap();
    assert_eq!(failed.state, BankSubscribingState::Failed);
    assert_eq!(failed.error.as_deref(), Some("the bank refused BALANCE with 500"));
    assert_eq!(failed.subscriptions.len(), 2);
    assert!(!store.settle_bank_subscribing("c1", None, t1).await.unwrap(), "settled once");
    // Subscribing again keeps what was recorded and clears the error.
    assert!(store.begin_bank_subscribing("c1", t1).await.unwrap());
    assert!(store.settle_bank_subscribing("c1", None, t1).await.unwrap());
    let subscribed = store.bank_subscriptions("c1").await.unwrap().unwrap();
    assert_eq!(
        (subscribed.state, subscribed.error, subscribed.subscriptions.len()),
        (BankSubscribingState::Subscribed, None, 2)
    );

    // The last topic's record settles in the same write; nothing of it while subscribing is not pending.
    authorized_consent(store, "app-1", "c4").await;
    let last = bank_subscription("bs-4", "CONSENT_REVOKED", "CONSENT", t1);
    assert!(!store.add_last_bank_subscription("c4", &last, t1).await.unwrap());
    assert_eq!(store.bank_subscriptions("c4").await.unwrap(), None);
    assert!(store.begin_bank_subscribing("c4", t1).await.unwrap());
    assert!(store.add_last_bank_subscription("c4", &last, t1).await.unwrap());
    let settled = store.bank_subscriptions("c4").await.unwrap().unwrap();
    assert_eq!(
        (settled.state, settled.error, settled.subscriptions),
        (BankSubscribingState::Subscribed, None, vec![last])
    );

    // Ending hands the subscriptions over once.
    let t2 = T0 + Duration::hours(1);
    assert_eq!(store.end_bank_subscriptions("c1", t2).await.unwrap(), vec![revoked.clone(), risk]);
    assert!(store.end_bank_subscriptions("c1", t2).await.unwrap().is_empty(), "a second end gets nothing");
    let ended = store.bank_subscriptions("c1").await.unwrap().unwrap();
    assert_eq!((ended.state, ended.subscriptions.len(), ended.updated_at), (BankSubscribingState::Ended, 0, t2));
    // An ended consent never subscribes again, and a subscribing that raced the end records nothing.
    assert!(!store.begin_bank_subscribing("c1", t2).await.unwrap());
    assert!(!store.add_bank_subscription("c1", &revoked, t2).await.unwrap());
    assert!(!store.settle_bank_subscribing("c1", None, t2).await.unwrap());
    assert_eq!(store.bank_subscriptions("c1").await.unwrap().unwrap().state, BankSubscribingState::Ended);
    // Ending a consent that never subscribed blocks a later start; an unknown consent has nothing to end.
    assert!(store.end_bank_subscriptions("c2", t2).await.unwrap().is_empty());
    assert!(!store.begin_bank_subscribing("c2", t2).await.unwrap());
    assert!(store.end_bank_subscriptions("ghost", t2).await.unwrap().is_empty());
    assert_eq!(store.bank_subscriptions("ghost").await.unwrap(), None);
    // Other consents are untouched, and deleting the client takes the records with its consents.
    authorized_consent(store, "app-2", "c3").await;
    assert!(store.begin_bank_subscribing("c3", t2).await.unwrap());
    assert!(store.add_bank_subscription("c3", &revoked, t2).await.unwrap());
    assert_eq!(store.bank_subscriptions("c3").await.unwrap().unwrap().subscriptions, vec![revoked]);
    assert!(store.delete_client("app-2").await.unwrap());
    assert_eq!(store.bank_subscriptions("c3").await.unwrap(), None);
}

async fn check_clients(store: &dyn Store) {
    let mut c = client("app-1");
    store.insert_client(&c).await.unwrap();
    assert_eq!(store.client("app-1").await.unwrap(), Some(c.clone()));
    assert!(matches!(store.insert_client(&c).await, Err(StoreError::Duplicate)));
    let stored = store.client("app-1").await.unwrap().unwrap();
    assert!(stored.registration_token_hash.unwrap().matches("rat-app-1"));
    assert!(!stored.registration_token_hash.unwrap().matches("rat-app-2"));

    c.metadata["client_name"] = json!("Budget Buddy");
    c.profile = ClientProfile::Sandbox;
    c.updated_at = T0 + Duration::hours(1);
    assert!(store.update_client(&c).await.unwrap());
    assert_eq!(store.client("app-1").await.unwrap(), Some(c.clone()));
    store.insert_client(&client("app-0")).await.unwrap();
    let ids: Vec<_> = store.list_clients().await.unwrap().into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, ["app-0", "app-1"]);

    // Deleting a client removes what hangs off it.
    authorized_consent(store, "app-1", "consent-of-app-1").await;
    assert!(store.delete_client("app-1").await.unwrap());
    assert_eq!(store.client("app-1").await.unwrap(), None);
    assert_eq!(store.consent("consent-of-app-1").await.unwrap(), None);
    assert!(!store.delete_client("app-1").await.unwrap());
    assert!(!store.update_client(&c).await.unwrap());
}

async fn check_par_single_use(store: &dyn Store) {
    store.insert_client(&client("app-1")).await.unwrap();
    store.insert_client(&client("app-2")).await.unwrap();
    let par = ParRecord {
        request_uri: "urn:ietf:params:oauth:request_uri:abc".into(),
        client_id: "app-1".into(),
        params: json!({"response_type": "code", "state": "s1", "code_challenge_method": "S256"}),
        expires_at: T0 + Duration::seconds(90),
        used_at: None,
    };
    store.insert_par_request(&par).await.unwrap();
    assert_eq!(store.par_request(&par.request_uri).await.unwrap(), Some(par.clone()));

    let now = T0 + Duration::seconds(10);
    assert_eq!(store.use_par_request(&par.request_uri, "app-2", now).await.unwrap(), ParUse::WrongClient);
    let ParUse::Used(used) = store.use_par_request(&par.request_uri, "app-1", now).await.unwrap() else {
        panic!("the first use by its own client must succeed");
    };
    assert_eq!(used.params, par.params);
    assert_eq!(used.used_at, Some(now));
    assert_eq!(store.use_par_request(&par.request_uri, "app-1", now).await.unwrap(), ParUse::AlreadyUsed);
    assert_eq!(store.use_par_request("urn:nope", "app-1", now).await.unwrap(), ParUse::NotFound);

    let late = ParRecord { request_uri: "urn:ietf:params:oauth:request_uri:late".into(), ..par.clone() };
    store.insert_par_request(&late).await.unwrap();
    assert_eq!(store.use_par_request(&late.request_uri, "app-1", late.expires_at).await.unwrap(), ParUse::Expired);
    // A PAR request for an unknown client is refused by the foreign key.
    let orphan = ParRecord { request_uri: "urn:x".into(), client_id: "ghost".into(), ..par };
    assert!(matches!(store.insert_par_request(&orphan).await, Err(StoreError::Missing(_))));
}

async fn check_consents(store: &dyn Store) {
    store.insert_client(&client("app-1")).await.unwrap();
    let pending = Consent::new("c-pending".into(), "app-1".into(), request(), T0);
    store.insert_consent(&pending).await.unwrap();
    assert_eq!(store.consent("c-pending").await.unwrap(), Some(pending.clone()));
    assert!(matches!(store.insert_consent(&pending).await, Err(StoreError::Duplicate)));

    let authorized = authorized_consent(store, "app-1", "c-auth").await;
    let loaded = store.consent("c-auth").await.unwrap().unwrap();
    assert_eq!(loaded, authorized);
    assert_eq!(loaded.expires_at, Some(T0 + Duration::minutes(2) + Duration::days(90)));
    assert_eq!(loaded.request.accounts.as_deref(), Some(&["acc-1".to_owned(), "acc-2".to_owned()][..]));
    // Compare-and-set: a stale writer that still thinks it is PENDING loses.
    assert!(!store.update_consent(&authorized, ConsentStatus::Pending).await.unwrap());

    let mine = store.consents_for_person("first-national", "user_good").await.unwrap();
    assert_eq!(mine.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c-auth"]);
    assert_eq!(store.consents_for_client("app-1").await.unwrap().len(), 2);
    assert_eq!(store.consent("nope").await.unwrap(), None);
}

async fn check_code_single_use_and_replay(store: &dyn Store) {
    authorized_consent(store, "app-1", "c1").await;
    store.insert_client(&client("app-2")).await.unwrap();
    let c = code("app-1", "c1", "code-secret-1");
    store.insert_code(&c).await.unwrap();
    let now = T0 + Duration::minutes(2);

    assert_eq!(store.redeem_code(&c.code_hash, "app-2", now).await.unwrap(), CodeRedemption::WrongClient);
    let CodeRedemption::Redeemed(redeemed) = store.redeem_code(&c.code_hash, "app-1", now).await.unwrap() else {
        panic!("first redemption must succeed");
    };
    assert_eq!(redeemed.pkce_challenge, c.pkce_challenge);
    assert_eq!(redeemed.dpop_jkt.as_deref(), Some("jkt-1"));
    store.insert_token(&token("at-1", "app-1", Some("c1"), Some("code-secret-1"))).await.unwrap();
    let refresh = TokenRecord { kind: TokenKind::Refresh, ..token("rt-1", "app-1", Some("c1"), Some("code-secret-1")) };
    store.insert_token(&refresh).await.unwrap();
    // Another token of the same consent, not issued from that code (and one of no consent): left alone.
    store.insert_token(&token("at-other", "app-1", Some("c1"), None)).await.unwrap();
    store.insert_token(&token("cc-1", "app-1", None, None)).await.unwrap();

    // Second redemption: refused, and both tokens from the code stop working in the same step.
    let again = store.redeem_code(&c.code_hash, "app-1", now + Duration::seconds(5)).await.unwrap();
    assert!(matches!(again, CodeRedemption::Replayed { tokens_revoked: 2, .. }), "{again:?}");
    assert!(!store.token(&TokenHash::of("at-1")).await.unwrap().unwrap().is_active(now));
    assert!(!store.token(&TokenHash::of("rt-1")).await.unwrap().unwrap().is_active(now));
    assert!(store.token(&TokenHash::of("at-other")).await.unwrap().unwrap().is_active(now));
    assert!(store.token(&TokenHash::of("cc-1")).await.unwrap().unwrap().is_active(now));
    // A token exchange still in flight for that code cannot store a token any more.
    let late = token("at-late", "app-1", Some("c1"), Some("code-secret-1"));
    assert!(matches!(store.insert_token(&late).await, Err(StoreError::CodeReplayed)));

    let old = code("app-1", "c1", "code-secret-old");
    store.insert_code(&old).await.unwrap();
    assert!(matches!(
        store.redeem_code(&old.code_hash, "app-1", old.expires_at).await.unwrap(),
        CodeRedemption::Expired(_)
    ));
    assert_eq!(store.redeem_code(&TokenHash::of("never"), "app-1", now).await.unwrap(), CodeRedemption::NotFound);
}

async fn check_tokens(store: &dyn Store) {
    authorized_consent(store, "app-1", "c1").await;
    let now = T0 + Duration::minutes(3);
    let bindings = [
        TokenBinding::Dpop { jkt: "jkt-abc".into() },
        TokenBinding::Mtls { x5t_s256: "x5t-def".into() },
        TokenBinding::Bearer,
    ];
    for (i, binding) in bindings.into_iter().enumerate() {
        let t = TokenRecord { binding, ..token(&format!("tok-{i}"), "app-1", Some("c1"), None) };
        store.insert_token(&t).await.unwrap();
        assert_eq!(store.token(&t.token_hash).await.unwrap(), Some(t));
    }
    // client_credentials tokens carry no consent.
    let cc = token("cc-token", "app-1", None, None);
    store.insert_token(&cc).await.unwrap();
    assert_eq!(store.token(&cc.token_hash).await.unwrap().unwrap().consent_id, None);
    assert!(matches!(store.insert_token(&cc).await, Err(StoreError::Duplicate)));

    // RFC 7009 revocation.
    assert!(store.revoke_token(&TokenHash::of("tok-0"), now).await.unwrap());
    assert!(!store.revoke_token(&TokenHash::of("tok-0"), now).await.unwrap());
    assert_eq!(store.token(&TokenHash::of("tok-0")).await.unwrap().unwrap().revoked_at, Some(now));
    assert!(store.token(&TokenHash::of("tok-1")).await.unwrap().unwrap().is_active(now));
    assert_eq!(store.token(&TokenHash::of("unknown")).await.unwrap(), None);

    // No token for a consent that has not been authorized, or one past its expiry.
    let pending = Consent::new("c-pending".into(), "app-1".into(), request(), T0);
    store.insert_consent(&pending).await.unwrap();
    let t = token("tok-pending", "app-1", Some("c-pending"), None);
    assert!(matches!(store.insert_token(&t).await, Err(StoreError::ConsentNotActive(id)) if id == "c-pending"));
    let after_expiry =
        TokenRecord { issued_at: T0 + Duration::days(91), ..token("tok-exp", "app-1", Some("c1"), None) };
    assert!(matches!(store.insert_token(&after_expiry).await, Err(StoreError::ConsentNotActive(_))));
}

async fn check_revocation(store: &dyn Store) {
    authorized_consent(store, "app-1", "c1").await;
    authorized_consent(store, "app-1", "c2").await;
    store.insert_token(&token("at-c1", "app-1", Some("c1"), None)).await.unwrap();
    store
        .insert_token(&TokenRecord { kind: TokenKind::Refresh, ..token("rt-c1", "app-1", Some("c1"), None) })
        .await
        .unwrap();
    store.insert_token(&token("at-c2", "app-1", Some("c2"), None)).await.unwrap();
    let pending_code = code("app-1", "c1", "unredeemed");
    store.insert_code(&pending_code).await.unwrap();

    let now = T0 + Duration::minutes(4);
    // Read first, so a store with a read cache holds these records when the revocation lands.
    assert!(store.token(&TokenHash::of("at-c1")).await.unwrap().unwrap().is_active(now));
    assert!(store.token(&TokenHash::of("rt-c1")).await.unwrap().unwrap().is_active(now));
    let active = |token: &'static str, consent: &'static str| async move {
        store.token_and_consent_active(&TokenHash::of(token), consent, now).await.unwrap()
    };
    assert!(active("at-c1", "c1").await);
    assert!(!active("at-none", "c1").await, "an unknown token");
    assert!(!active("at-c1", "c-none").await, "an unknown consent");
    let outcome = store.revoke_consent("c1", RevocationReason::UserAction, Initiator::Person, now).await.unwrap();
    assert!(!active("at-c1", "c1").await, "read after the revocation's commit, from the cache as from the file");
    assert!(!active("at-c2", "c1").await, "an active token does not make a revoked consent active");
    assert!(active("at-c2", "c2").await);
    let ConsentRevocationOutcome::Revoked { consent, tokens_revoked } = outcome else {
        panic!("revocation must succeed: {outcome:?}");
    };
    assert_eq!(tokens_revoked, 2);
    assert_eq!(consent.status, ConsentStatus::Revoked);
    // From the moment revocation is acknowledged, none of the consent's tokens works; other consents are untouched.
    assert!(!store.token(&TokenHash::of("at-c1")).await.unwrap().unwrap().is_active(now));
    assert!(!store.token(&TokenHash::of("rt-c1")).await.unwrap().unwrap().is_active(now));
    assert!(store.token(&TokenHash::of("at-c2")).await.unwrap().unwrap().is_active(now));
    // The history is kept, with the FDX reason and initiator.
    let stored = store.consent("c1").await.unwrap().unwrap();
    assert_eq!(stored.status, ConsentStatus::Revoked);
    assert_eq!(stored.revocations.len(), 1);
    assert_eq!(stored.revocations[0].initiator, Initiator::Person);
    assert_eq!(stored.revocations[0].reason, RevocationReason::UserAction);
    assert_eq!(stored.revocations[0].at, now);
    // Nothing can be issued for it any more: no new token, and its outstanding code is spent.
    assert!(matches!(
        store.insert_token(&token("at-new", "app-1", Some("c1"), None)).await,
        Err(StoreError::ConsentNotActive(_))
    ));
    assert!(!matches!(
        store.redeem_code(&pending_code.code_hash, "app-1", now).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    // Revoking twice is refused with the reason; an unknown consent is reported as such.
    assert_eq!(
        store.revoke_consent("c1", RevocationReason::UserAction, Initiator::App, now).await.unwrap(),
        ConsentRevocationOutcome::Refused(LifecycleError::AlreadyEnded(ConsentStatus::Revoked))
    );
    assert_eq!(
        store.revoke_consent("nope", RevocationReason::UserAction, Initiator::App, now).await.unwrap(),
        ConsentRevocationOutcome::NotFound
    );
}

async fn check_jti_replay(store: &dyn Store) {
    let exp = T0 + Duration::seconds(60);
    let kind = JtiKind::ClientAssertion;
    assert!(store.remember_jti(kind, "app-1", "jti-1", exp, T0).await.unwrap());
    assert!(!store.remember_jti(kind, "app-1", "jti-1", exp, T0 + Duration::seconds(30)).await.unwrap());
    // Scoped by issuer and by cache.
    assert!(store.remember_jti(kind, "app-2", "jti-1", exp, T0).await.unwrap());
    assert!(store.remember_jti(JtiKind::DpopProof, "app-1", "jti-1", exp, T0).await.unwrap());
    // Once expired, the entry is purged and no longer blocks.
    assert!(store.remember_jti(kind, "app-1", "jti-1", exp + Duration::seconds(60), exp).await.unwrap());
    assert!(store.remember_jti(kind, "app-1", "jti-2", exp, T0).await.unwrap());
    // purge_expired drops the three entries that expired at `exp` (jti-1 of app-2 and DPoP, jti-2).
    assert_eq!(store.purge_expired(exp).await.unwrap(), 3);
    assert!(!store.remember_jti(kind, "app-1", "jti-1", exp + Duration::seconds(90), exp).await.unwrap());
}

async fn check_bank_tokens(store: &dyn Store) {
    authorized_consent(store, "app-1", "c1").await;
    assert_eq!(store.bank_tokens("c1").await.unwrap(), None);
    store.put_bank_tokens("c1", &bank_tokens(), T0).await.unwrap();
    assert_eq!(store.bank_tokens("c1").await.unwrap(), Some(bank_tokens()));
    let rotated = BankTokens { access_token: "BANK-ACCESS-2".into(), ..bank_tokens() };
    store.put_bank_tokens("c1", &rotated, T0).await.unwrap();
    assert_eq!(store.bank_tokens("c1").await.unwrap(), Some(rotated));
    assert!(matches!(store.put_bank_tokens("ghost", &bank_tokens(), T0).await, Err(StoreError::Missing(_))));
    // An abandoned consent's bank tokens are deleted once revoked at the bank; the consent itself stays.
    assert!(store.delete_bank_tokens("c1").await.unwrap());
    assert_eq!(store.bank_tokens("c1").await.unwrap(), None);
    assert!(!store.delete_bank_tokens("c1").await.unwrap(), "nothing left to delete");
    assert!(store.consent("c1").await.unwrap().is_some());
}

/// The callback's write: a PENDING consent and its bank's tokens together; a failure writes neither.
async fn check_pending_consent_with_bank_tokens(store: &dyn Store) {
    store.insert_client(&client("app-1")).await.unwrap();
    let pending = Consent::new("c-new".into(), "app-1".into(), request(), T0);
    store.insert_pending_consent(&pending, &bank_tokens(), T0).await.unwrap();
    assert_eq!(store.consent("c-new").await.unwrap(), Some(pending.clone()));
    assert_eq!(store.bank_tokens("c-new").await.unwrap(), Some(bank_tokens()));
    // A duplicate consent id: refused, and the other bank tokens did not replace the stored ones.
    let other = BankTokens { access_token: "BANK-ACCESS-OTHER".into(), ..bank_tokens() };
    assert!(matches!(store.insert_pending_consent(&pending, &other, T0).await, Err(StoreError::Duplicate)));
    assert_eq!(store.bank_tokens("c-new").await.unwrap(), Some(bank_tokens()));
    // A consent of an unknown client: neither the consent nor its bank tokens.
    let orphan = Consent::new("c-orphan".into(), "ghost".into(), request(), T0);
    assert!(store.insert_pending_consent(&orphan, &bank_tokens(), T0).await.is_err());
    assert_eq!(store.consent("c-orphan").await.unwrap(), None);
    assert_eq!(store.bank_tokens("c-orphan").await.unwrap(), None);
}

/// The confirmation's write: the request_uri consumed, the consent authorized and the code stored, all or nothing.
async fn check_approval_is_all_or_nothing(store: &dyn Store) {
    store.insert_client(&client("app-1")).await.unwrap();
    store.insert_client(&client("app-2")).await.unwrap();
    let now = T0 + Duration::minutes(2);
    let par = |uri: &str| ParRecord {
        request_uri: format!("urn:ietf:params:oauth:request_uri:{uri}"),
        client_id: "app-1".into(),
        params: json!({"response_type": "code", "code_challenge_method": "S256"}),
        expires_at: T0 + Duration::seconds(150),
        used_at: None,
    };
    let pending = Consent::new("c-ok".into(), "app-1".into(), request(), T0);
    store.insert_consent(&pending).await.unwrap();
    let mut authorized = pending.clone();
    let decision = |accounts: &[&str]| Authorization {
        subject: ConsentSubject { person: "user_good".into(), bank: "first-national".into() },
        accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
        secondary_use_opt_in: false,
    };
    authorized.authorize(decision(&["acc-1"]), now).unwrap();
    let first = par("one");
    store.insert_par_request(&first).await.unwrap();
    let approval =
        |request_uri, client_id, consent, code| ConsentApproval { request_uri, client_id, consent, code, now };

    // Refusals of the request_uri change nothing: the consent stays PENDING, no code is stored.
    let c1 = code("app-1", "c-ok", "code-1");
    let foreign = store.approve_consent(approval(&first.request_uri, "app-2", &authorized, &c1)).await.unwrap();
    assert_eq!(foreign, Approval::Refused(ParUse::WrongClient));
    let unknown = store.approve_consent(approval("urn:nope", "app-1", &authorized, &c1)).await.unwrap();
    assert_eq!(unknown, Approval::Refused(ParUse::NotFound));
    let late = ConsentApproval { now: first.expires_at, ..approval(&first.request_uri, "app-1", &authorized, &c1) };
    assert_eq!(store.approve_consent(late).await.unwrap(), Approval::Refused(ParUse::Expired));
    assert_eq!(store.consent("c-ok").await.unwrap().unwrap().status, ConsentStatus::Pending);
    assert_eq!(store.redeem_code(&c1.code_hash, "app-1", now).await.unwrap(), CodeRedemption::NotFound);

    assert_eq!(store.bank_subscriptions("c-ok").await.unwrap(), None, "no subscribing begun by a refusal");

    // The approval: all at once, and the consent's subscribing at its bank begun with it.
    let approved = store.approve_consent(approval(&first.request_uri, "app-1", &authorized, &c1)).await.unwrap();
    assert_eq!(approved, Approval::Approved);
    assert_eq!(store.bank_subscriptions("c-ok").await.unwrap().unwrap().state, BankSubscribingState::Pending);
    assert_eq!(store.consent("c-ok").await.unwrap(), Some(authorized.clone()));
    assert_eq!(store.par_request(&first.request_uri).await.unwrap().unwrap().used_at, Some(now));
    // A second completion with the same request_uri: refused, and its code is not stored.
    let c2 = code("app-1", "c-ok", "code-2");
    let again = store.approve_consent(approval(&first.request_uri, "app-1", &authorized, &c2)).await.unwrap();
    assert_eq!(again, Approval::Refused(ParUse::AlreadyUsed));
    assert_eq!(store.redeem_code(&c2.code_hash, "app-1", now).await.unwrap(), CodeRedemption::NotFound);
    assert!(matches!(store.redeem_code(&c1.code_hash, "app-1", now).await.unwrap(), CodeRedemption::Redeemed(_)));

    // The consent is no longer PENDING (here: already authorized): the request_uri stays unused, no code.
    let second = par("two");
    store.insert_par_request(&second).await.unwrap();
    let c3 = code("app-1", "c-ok", "code-3");
    let changed = store.approve_consent(approval(&second.request_uri, "app-1", &authorized, &c3)).await.unwrap();
    assert_eq!(changed, Approval::ConsentChanged);
    assert_eq!(store.par_request(&second.request_uri).await.unwrap().unwrap().used_at, None);
    assert_eq!(store.redeem_code(&c3.code_hash, "app-1", now).await.unwrap(), CodeRedemption::NotFound);
}

/// An access token and its refresh token are stored together or not at all.
async fn check_token_pairs_are_all_or_nothing(store: &dyn Store) {
    authorized_consent(store, "app-1", "c1").await;
    let access = token("pair-at", "app-1", Some("c1"), None);
    let refresh = TokenRecord { kind: TokenKind::Refresh, ..token("pair-rt", "app-1", Some("c1"), None) };
    store.insert_tokens(&[access.clone(), refresh.clone()]).await.unwrap();
    assert_eq!(store.token(&access.token_hash).await.unwrap(), Some(access));
    assert_eq!(store.token(&refresh.token_hash).await.unwrap(), Some(refresh));

    // The second one is refused (its consent is not active): the first is not stored either.
    let pending = Consent::new("c-pending".into(), "app-1".into(), request(), T0);
    store.insert_consent(&pending).await.unwrap();
    let fine = token("pair-fine", "app-1", Some("c1"), None);
    let refused = token("pair-refused", "app-1", Some("c-pending"), None);
    let outcome = store.insert_tokens(&[fine.clone(), refused.clone()]).await;
    assert!(matches!(outcome, Err(StoreError::ConsentNotActive(id)) if id == "c-pending"));
    assert_eq!(store.token(&fine.token_hash).await.unwrap(), None);
    assert_eq!(store.token(&refused.token_hash).await.unwrap(), None);
}

fn access(seq_hint: u16, consent: &str, person: &str, outcome: AuditOutcome) -> AuditRecord {
    AuditRecord {
        seq: 0,
        at: T0 + Duration::seconds(i64::from(seq_hint)),
        client_id: "app-1".into(),
        consent_id: consent.into(),
        bank: "first-national".into(),
        person: person.into(),
        endpoint: "transactions".into(),
        account_id: Some("acc-1".into()),
        clusters: vec![DataCluster::Transactions],
        status: if outcome == AuditOutcome::Served { 200 } else { 404 },
        outcome,
        interaction_id: format!("ia-{seq_hint}"),
    }
}

/// Who a test record is about.
fn subject(person: &str) -> ConsentSubject {
    ConsentSubject { person: person.into(), bank: "first-national".into() }
}

async fn check_audit_log(store: &dyn Store) {
    let good = subject("user_good");
    assert!(store.audit_of_consent(&good, "c1", 10).await.unwrap().is_empty());
    store.append_audit(access(1, "c1", "user_good", AuditOutcome::Served)).await.unwrap();
    store.append_audit(access(2, "c1", "user_good", AuditOutcome::Denied)).await.unwrap();
    store.append_audit(access(3, "c2", "user_good", AuditOutcome::Failed)).await.unwrap();
    store.append_audit(access(4, "c3", "user_mfa", AuditOutcome::Served)).await.unwrap();
    store.append_audit(access(5, "c1", "user_mfa", AuditOutcome::Served)).await.unwrap();
    let of_c1 = store.audit_of_consent(&good, "c1", 10).await.unwrap();
    assert_eq!(of_c1.len(), 2);
    assert_eq!(of_c1[0].interaction_id, "ia-2", "newest first");
    assert_eq!(of_c1[1], AuditRecord { seq: of_c1[1].seq, ..access(1, "c1", "user_good", AuditOutcome::Served) });
    assert!(of_c1[0].seq > of_c1[1].seq);
    assert_eq!(store.audit_of_consent(&good, "c1", 1).await.unwrap().len(), 1, "limit");
    assert_eq!(store.audit_of_consent(&subject("user_mfa"), "c1", 10).await.unwrap().len(), 1, "only the subject's");
    let of_person = store.audit_of_person("first-national", "user_good", 10).await.unwrap();
    let consents: Vec<&str> = of_person.iter().map(|r| r.consent_id.as_str()).collect();
    assert_eq!(consents, ["c2", "c1", "c1"], "every consent of the person, newest first, nobody else's");
    assert_eq!(store.audit_of_person("first-national", "user_good", 1).await.unwrap().len(), 1, "limit");
    assert!(store.audit_of_person("other-bank", "user_good", 10).await.unwrap().is_empty());
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_memory {
            $(#[tokio::test]
            async fn $name() {
                let store = super::memory_store().await;
                super::$name(&store).await;
            })*
        }
        mod sqlite_file {
            $(#[tokio::test]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let store = gateway::store::SqliteStore::open(&dir.path().join("gateway.db"), super::key()).await.unwrap();
                super::$name(&store).await;
            })*
        }
    };
}

conformance!(
    check_clients,
    check_par_single_use,
    check_consents,
    check_code_single_use_and_replay,
    check_tokens,
    check_revocation,
    check_jti_replay,
    check_bank_tokens,
    check_audit_log,
    check_notification_subscriptions_and_events,
    check_bank_subscriptions,
    check_pending_consent_with_bank_tokens,
    check_approval_is_all_or_nothing,
    check_token_pairs_are_all_or_nothing,
);

// ---- SQLite-specific: concurrency, encryption on disk, durability ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_redemptions_of_one_code_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store: DynStore = Arc::new(SqliteStore::open(&dir.path().join("gateway.db"), key()).await.unwrap());
    authorized_consent(store.as_ref(), "app-1", "c1").await;
    for round in 0..20 {
        let secret = format!("race-code-{round}");
        store.insert_code(&code("app-1", "c1", &secret)).await.unwrap();
        let hash = TokenHash::of(&secret);
        let now = T0 + Duration::minutes(2);
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.redeem_code(&hash, "app-1", now).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        let mut replays = 0;
        for racer in racers {
            match racer.await.unwrap() {
                CodeRedemption::Redeemed(_) => winners += 1,
                CodeRedemption::Replayed { .. } => replays += 1,
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        assert_eq!((winners, replays), (1, 1), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_uses_of_one_request_uri_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store: DynStore = Arc::new(SqliteStore::open(&dir.path().join("gateway.db"), key()).await.unwrap());
    store.insert_client(&client("app-1")).await.unwrap();
    for round in 0..20 {
        let uri = format!("urn:ietf:params:oauth:request_uri:race-{round}");
        let par = ParRecord {
            request_uri: uri.clone(),
            client_id: "app-1".into(),
            params: json!({}),
            expires_at: T0 + Duration::seconds(90),
            used_at: None,
        };
        store.insert_par_request(&par).await.unwrap();
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (store, uri) = (Arc::clone(&store), uri.clone());
                tokio::spawn(async move { store.use_par_request(&uri, "app-1", T0).await.unwrap() })
            })
            .collect();
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.unwrap());
        }
        assert_eq!(outcomes.iter().filter(|o| matches!(o, ParUse::Used(_))).count(), 1, "round {round}");
        assert!(outcomes.contains(&ParUse::AlreadyUsed), "round {round}");
    }
}

fn file_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn bank_tokens_are_encrypted_on_disk_and_bound_to_their_consent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let store = SqliteStore::open(&db, key()).await.unwrap();
    authorized_consent(&store, "app-1", "c1").await;
    authorized_consent(&store, "app-1", "c2").await;
    store.put_bank_tokens("c1", &bank_tokens(), T0).await.unwrap();
    store.insert_token(&token("APP-ACCESS-TOKEN-plaintext-55aa", "app-1", Some("c1"), None)).await.unwrap();

    // Neither the database file nor its WAL holds a token in clear, while a known stored value is found.
    let raw = file_bytes(dir.path());
    assert!(contains(&raw, "first-national"), "the scan must see the stored rows");
    assert!(!contains(&raw, "BANK-ACCESS-TOKEN-plaintext-7f3a"));
    assert!(!contains(&raw, "BANK-REFRESH-TOKEN-plaintext-91bc"));
    assert!(!contains(&raw, "APP-ACCESS-TOKEN-plaintext-55aa"));

    // A ciphertext copied into another consent's row does not open there.
    let pool = sqlx::sqlite::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("INSERT INTO bank_tokens (consent_id, sealed, updated_at) SELECT 'c2', sealed, updated_at FROM bank_tokens WHERE consent_id = 'c1'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(matches!(store.bank_tokens("c2").await, Err(StoreError::Unseal)));
    assert_eq!(store.bank_tokens("c1").await.unwrap(), Some(bank_tokens()));
}

/// Group commit ([`gateway::store::group_commit`]): many concurrent hot writes share flushes, yet each keeps its
/// own answer: one winner among racing inserts of the same `jti`, every distinct token acknowledged and durable, and
/// a refused token (inactive consent) does not take its batch-mates down with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_hot_writes_are_batched_without_losing_their_own_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let now = T0 + Duration::minutes(2);
    {
        let store: DynStore = Arc::new(SqliteStore::open(&db, key()).await.unwrap());
        authorized_consent(store.as_ref(), "app-1", "c1").await;
        store.insert_consent(&Consent::new("c-pending".into(), "app-1".into(), request(), T0)).await.unwrap();
        let exp = T0 + Duration::minutes(10);
        let jtis: Vec<_> = (0..64)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.remember_jti(JtiKind::DpopProof, "jkt", "same", exp, now).await })
            })
            .collect();
        let tokens: Vec<_> = (0..200)
            .map(|i| {
                let store = Arc::clone(&store);
                let consent = if i % 50 == 7 { "c-pending" } else { "c1" };
                let t = TokenRecord { issued_at: now, ..token(&format!("batch-{i}"), "app-1", Some(consent), None) };
                tokio::spawn(async move { store.insert_token(&t).await })
            })
            .collect();
        let mut fresh = 0;
        for j in jtis {
            if j.await.unwrap().unwrap() {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 1, "exactly one of 64 racing inserts of one jti is new");
        // A jti is written behind (decided in memory): it is committed once a write queued after it is acknowledged.
        store.insert_token(&token("after-the-jti", "app-1", Some("c1"), None)).await.unwrap();
        for (i, t) in tokens.into_iter().enumerate() {
            let result = t.await.unwrap();
            if i % 50 == 7 {
                assert!(matches!(result, Err(StoreError::ConsentNotActive(_))), "token {i}: {result:?}");
            } else {
                assert!(result.is_ok(), "token {i}: {result:?}");
            }
        }
        // Dropped without close(): acknowledged writes must already be on disk.
    }
    let store = SqliteStore::open(&db, key()).await.unwrap();
    for i in 0..200 {
        let stored = store.token(&TokenHash::of(&format!("batch-{i}"))).await.unwrap();
        assert_eq!(stored.is_some(), i % 50 != 7, "token {i}");
    }
    assert!(!store.remember_jti(JtiKind::DpopProof, "jkt", "same", T0 + Duration::hours(1), now).await.unwrap());
}

/// Replay-cache entries are decided in memory and written behind, many rows per statement: every one of hundreds
/// of concurrent new `jti`s is answered once as new, and after the writes queued behind them are acknowledged, a
/// reopened store (its memory rebuilt from the table) refuses each of them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_behind_jtis_are_all_refused_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let exp = T0 + Duration::minutes(10);
    {
        let store: DynStore = Arc::new(SqliteStore::open(&db, key()).await.unwrap());
        authorized_consent(store.as_ref(), "app-1", "c1").await;
        let tasks: Vec<_> = (0..450)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(
                    async move { store.remember_jti(JtiKind::DpopProof, "jkt", &format!("j{i}"), exp, T0).await },
                )
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().unwrap(), "each distinct jti is new once");
        }
        assert!(!store.remember_jti(JtiKind::DpopProof, "jkt", "j7", exp, T0).await.unwrap(), "a replay");
        // Taken over after its first expiry: the log holds it twice.
        let early = T0 + Duration::minutes(1);
        assert!(store.remember_jti(JtiKind::DpopProof, "jkt", "renewed", early, T0).await.unwrap());
        assert!(store.remember_jti(JtiKind::DpopProof, "jkt", "renewed", exp, early).await.unwrap());
        store.insert_token(&token("after-the-jtis", "app-1", Some("c1"), None)).await.unwrap();
    }
    let store = SqliteStore::open(&db, key()).await.unwrap();
    for i in 0..450 {
        let again = store.remember_jti(JtiKind::DpopProof, "jkt", &format!("j{i}"), exp, T0).await.unwrap();
        assert!(!again, "j{i} is still remembered after the reopen");
    }
    assert!(store.remember_jti(JtiKind::DpopProof, "jkt", "j450", exp, T0).await.unwrap());
    let later = T0 + Duration::minutes(5);
    let renewed = store.remember_jti(JtiKind::DpopProof, "jkt", "renewed", exp, later).await.unwrap();
    assert!(!renewed, "the latest expiry of a jti logged twice is the one reloaded");
}

/// An SQL failure inside a group-committed batch reaches its caller as an error (never a hang, never an
/// acknowledgement), nothing of it is written, and the writer keeps serving once the database is usable again.
/// Plain tokens are appended many rows per statement: hundreds of concurrent appends are each acknowledged and all
/// readable; when the statement fails, every caller that joined it gets the error (none is left waiting, nothing is
/// written), and appending works again once the database does. Access-log records are acknowledged by the journal
/// (`store::journal`): a table that cannot take them holds them back (the log's reads fail meanwhile, never answer
/// without them), and once it can, every acknowledged record is there, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_rows_are_all_acknowledged_or_all_refused() {
    use sqlx::{ConnectOptions as _, Connection as _};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let store: DynStore = Arc::new(SqliteStore::open(&db, key()).await.unwrap());
    authorized_consent(store.as_ref(), "app-1", "c1").await;
    let append_all = |round: &'static str, count: u16| {
        let tasks: Vec<_> = (0..count)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let audit = store.append_audit(access(i, "c1", "p1", AuditOutcome::Served)).await;
                    let plain = token(&format!("plain-{round}-{i}"), "app-1", None, None);
                    (audit, store.insert_token(&plain).await)
                })
            })
            .collect();
        async move {
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        }
    };
    for (audit, plain) in append_all("first", 300).await {
        audit.unwrap();
        plain.unwrap();
    }
    assert_eq!(store.audit_of_consent(&subject("p1"), "c1", 1000).await.unwrap().len(), 300);
    assert!(store.token(&TokenHash::of("plain-first-299")).await.unwrap().is_some());

    let mut admin = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).connect().await.unwrap();
    sqlx::query("ALTER TABLE audit_log RENAME TO audit_away").execute(&mut admin).await.unwrap();
    sqlx::query("ALTER TABLE tokens RENAME TO tokens_away").execute(&mut admin).await.unwrap();
    let refused = append_all("refused", 50).await;
    assert!(refused.iter().all(|(_, plain)| plain.is_err()), "every joined caller gets the failure");
    assert!(refused.iter().all(|(audit, _)| audit.is_ok()), "the journal acknowledged the access records");
    assert!(store.audit_of_consent(&subject("p1"), "c1", 1000).await.is_err(), "no log without the held records");
    sqlx::query("ALTER TABLE audit_away RENAME TO audit_log").execute(&mut admin).await.unwrap();
    sqlx::query("ALTER TABLE tokens_away RENAME TO tokens").execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    assert!(store.token(&TokenHash::of("plain-refused-0")).await.unwrap().is_none(), "a refused token left nothing");
    store.insert_token(&token("plain-after", "app-1", None, None)).await.unwrap();
    store.append_audit(access(999, "c1", "p1", AuditOutcome::Denied)).await.unwrap();
    let log = store.audit_of_consent(&subject("p1"), "c1", 1000).await.unwrap();
    assert_eq!(log.len(), 351, "every acknowledged record, once");
    assert_eq!(log[0].interaction_id, "ia-999");
    assert!(log.windows(2).all(|w| w[0].seq == w[1].seq + 1), "in append order, numbered without a gap");
}

/// Access records reach the table by themselves, without a read of the log asking for them: a move is scheduled
/// `MOVE_AFTER` after the first record, and once it committed the journal's file of those records is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_records_move_into_the_table_without_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let store = SqliteStore::open(&db, key()).await.unwrap();
    for i in 0..3 {
        store.append_audit(access(i, "c1", "p1", AuditOutcome::Served)).await.unwrap();
    }
    let reader = rusqlite::Connection::open(&db).unwrap();
    let in_table = || reader.query_row("SELECT COUNT(*) FROM audit_log", [], |row| row.get::<_, i64>(0)).unwrap();
    let journal_files = || {
        let names = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name());
        names.filter(|name| name.to_string_lossy().contains("audit-journal")).count()
    };
    // Bounded wait for the scheduled move (it commits, then deletes the moved file).
    let deadline = std::time::Instant::now() + gateway::store::journal::MOVE_AFTER * 50;
    while (in_table() < 3 || journal_files() > 1) && std::time::Instant::now() < deadline {
        tokio::time::sleep(gateway::store::journal::MOVE_AFTER / 4).await;
    }
    assert_eq!(in_table(), 3, "moved within {:?}", gateway::store::journal::MOVE_AFTER * 50);
    assert_eq!(journal_files(), 1, "only the current generation's file is left");
    store.close().await;
}

/// A gateway that stopped before moving its access-log journal into the table (a crash) finds the records at its
/// next open: inserted once (a record already in the table is not doubled), a last line cut short by the crash
/// dropped (it was never acknowledged), the files deleted, and new records numbered after all of them.
#[tokio::test]
async fn a_reopened_store_recovers_the_access_log_journal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let store = SqliteStore::open(&db, key()).await.unwrap();
    store.append_audit(access(1, "c1", "p1", AuditOutcome::Served)).await.unwrap();
    store.append_audit(access(2, "c1", "p1", AuditOutcome::Served)).await.unwrap();
    store.close().await;
    drop(store);
    let numbered = |seq: i64, hint: u16| AuditRecord { seq, ..access(hint, "c1", "p1", AuditOutcome::Denied) };
    let mut left = Vec::new();
    for (seq, hint) in [(2, 2), (3, 3), (4, 4)] {
        left.extend(gateway::store::journal::line(&numbered(seq, hint)).unwrap());
    }
    let torn = gateway::store::journal::line(&numbered(5, 5)).unwrap();
    left.extend(&torn[..torn.len() - 7]);
    let file = dir.path().join("gateway.db.audit-journal.7");
    std::fs::write(&file, left).unwrap();

    let store = SqliteStore::open(&db, key()).await.unwrap();
    assert!(!file.exists(), "a recovered file is deleted");
    store.append_audit(access(6, "c1", "p1", AuditOutcome::Served)).await.unwrap();
    let log = store.audit_of_consent(&subject("p1"), "c1", 100).await.unwrap();
    let seen: Vec<(i64, &str)> = log.iter().map(|r| (r.seq, r.interaction_id.as_str())).collect();
    assert_eq!(seen, [(5, "ia-6"), (4, "ia-4"), (3, "ia-3"), (2, "ia-2"), (1, "ia-1")]);
    assert_eq!(log[3].outcome, AuditOutcome::Served, "the table's record, not the journal's copy");
}

/// The writer's connection never checkpoints (`wal_autocheckpoint=0`): the checkpointer beside it copies committed
/// pages from the write-ahead log into the database file. Without it the file would not grow, whatever was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpointer_copies_committed_writes_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let store = SqliteStore::open(&db, key()).await.unwrap();
    authorized_consent(&store, "app-1", "c1").await;
    let before = std::fs::metadata(&db).unwrap().len();
    for i in 0..400 {
        store.insert_token(&token(&format!("plain-{i}"), "app-1", None, None)).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&db).unwrap().len() <= before {
        assert!(std::time::Instant::now() < deadline, "no checkpoint copied the tokens into the file within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_failing_batch_is_reported_and_the_writer_recovers() {
    use sqlx::{ConnectOptions as _, Connection as _};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let store = SqliteStore::open(&db, key()).await.unwrap();
    authorized_consent(&store, "app-1", "c1").await;
    let mut admin = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).connect().await.unwrap();
    sqlx::query("ALTER TABLE tokens RENAME TO tokens_away").execute(&mut admin).await.unwrap();
    let failed = store.insert_token(&token("lost", "app-1", Some("c1"), None)).await;
    assert!(matches!(failed, Err(StoreError::Batch(_) | StoreError::Database(_))), "{failed:?}");
    sqlx::query("ALTER TABLE tokens_away RENAME TO tokens").execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    store.insert_token(&token("kept", "app-1", Some("c1"), None)).await.unwrap();
    assert!(store.token(&TokenHash::of("kept")).await.unwrap().is_some());
    assert_eq!(store.token(&TokenHash::of("lost")).await.unwrap(), None, "the failed write left nothing");
}

#[tokio::test]
async fn acknowledged_writes_survive_a_reopen_of_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("gateway.db");
    let now = T0 + Duration::minutes(2) + Duration::seconds(30);
    {
        let store = SqliteStore::open(&db, key()).await.unwrap();
        authorized_consent(&store, "app-1", "c1").await;
        // A jti is written behind: committed with (or before) the token acknowledged after it.
        assert!(store.remember_jti(JtiKind::DpopProof, "jkt", "j1", T0 + Duration::hours(1), T0).await.unwrap());
        store.insert_token(&token("at-1", "app-1", Some("c1"), None)).await.unwrap();
        store.put_bank_tokens("c1", &bank_tokens(), T0).await.unwrap();
        let code = code("app-1", "c1", "code-1");
        store.insert_code(&code).await.unwrap();
        assert!(matches!(store.redeem_code(&code.code_hash, "app-1", now).await.unwrap(), CodeRedemption::Redeemed(_)));
        assert!(store.begin_bank_subscribing("c1", now).await.unwrap());
        let risk = bank_subscription("bs-1", "RISK", "FRAUD", now);
        assert!(store.add_bank_subscription("c1", &risk, now).await.unwrap());
        // No close(): a crash-like drop. Acknowledged writes are already durable (WAL, synchronous=FULL).
    }
    let store = SqliteStore::open(&db, key()).await.unwrap();
    assert!(store.client("app-1").await.unwrap().is_some());
    assert_eq!(store.consent("c1").await.unwrap().unwrap().status, ConsentStatus::Authorized);
    assert!(store.token(&TokenHash::of("at-1")).await.unwrap().unwrap().is_active(now));
    assert_eq!(store.bank_tokens("c1").await.unwrap(), Some(bank_tokens()));
    assert!(!store.remember_jti(JtiKind::DpopProof, "jkt", "j1", T0 + Duration::hours(1), now).await.unwrap());
    assert!(matches!(
        store.redeem_code(&TokenHash::of("code-1"), "app-1", now).await.unwrap(),
        CodeRedemption::Replayed { .. }
    ));
    // A restarted gateway still knows what it holds at the bank (and that subscribing was interrupted).
    let kept = store.bank_subscriptions("c1").await.unwrap().unwrap();
    assert_eq!(kept.state, BankSubscribingState::Pending);
    assert_eq!(kept.subscriptions, vec![bank_subscription("bs-1", "RISK", "FRAUD", now)]);
    store.close().await;

    // With another key the rows are still there but the bank tokens cannot be read.
    let other = SqliteStore::open(&db, SealKey::from_bytes(&[1u8; 32]).unwrap()).await.unwrap();
    assert!(matches!(other.bank_tokens("c1").await, Err(StoreError::Unseal)));
}

/// Writes that put their own rows in the store's read caches (the pushed request, the pending consent with its
/// bank tokens, the approval) cache exactly what a fresh reader of the file decodes: instants in whole seconds, the
/// request_uri consumed, the consent as approved.
#[tokio::test]
async fn rows_cached_by_their_writes_match_a_fresh_read_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let store = SqliteStore::open(&db, key()).await.unwrap();
    store.insert_client(&client("app-1")).await.unwrap();
    // Instants with fractions of a second: the file keeps whole seconds.
    let now = T0 + Duration::milliseconds(1_750);
    let par = ParRecord {
        request_uri: "urn:ietf:params:oauth:request_uri:cached".into(),
        client_id: "app-1".into(),
        params: json!({"response_type": "code", "state": "s"}),
        expires_at: now + Duration::seconds(90),
        used_at: None,
    };
    store.insert_par_request(&par).await.unwrap();
    let pending = Consent::new("c-cached".into(), "app-1".into(), request(), now);
    store.insert_pending_consent(&pending, &bank_tokens(), now).await.unwrap();

    let fresh = SqliteStore::open(&db, key()).await.unwrap();
    let cached_par = store.par_request(&par.request_uri).await.unwrap().unwrap();
    assert_eq!(Some(&cached_par), fresh.par_request(&par.request_uri).await.unwrap().as_ref());
    assert_eq!(cached_par.expires_at, T0 + Duration::seconds(91), "whole seconds, as stored");
    let cached = store.consent("c-cached").await.unwrap().unwrap();
    assert_eq!(Some(&cached), fresh.consent("c-cached").await.unwrap().as_ref());
    assert_eq!(cached.created_at, T0 + Duration::seconds(1));
    assert_eq!(store.bank_tokens("c-cached").await.unwrap(), fresh.bank_tokens("c-cached").await.unwrap());
    fresh.close().await;

    let mut authorized = cached.clone();
    let subject = ConsentSubject { person: "user_good".into(), bank: "first-national".into() };
    authorized
        .authorize(Authorization { subject, accounts: vec!["acc-1".into()], secondary_use_opt_in: false }, now)
        .unwrap();
    let code = code("app-1", "c-cached", "code-cached");
    let approval =
        ConsentApproval { request_uri: &par.request_uri, client_id: "app-1", consent: &authorized, code: &code, now };
    assert_eq!(store.approve_consent(approval).await.unwrap(), Approval::Approved);
    let fresh = SqliteStore::open(&db, key()).await.unwrap();
    let cached = store.consent("c-cached").await.unwrap().unwrap();
    assert_eq!(cached.status, ConsentStatus::Authorized);
    assert_eq!(Some(&cached), fresh.consent("c-cached").await.unwrap().as_ref());
    let used = store.par_request(&par.request_uri).await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(T0 + Duration::seconds(1)));
    assert_eq!(Some(used), fresh.par_request(&par.request_uri).await.unwrap());
    fresh.close().await;
    store.close().await;
}

/// The consent flow's writes put their rows in the caches themselves, so the flow's next reads never reach the
/// file: rows deleted behind the store's back (which cannot happen in operation: the file has one owner process)
/// are still answered, while a fresh reader of the file finds nothing.
#[tokio::test]
async fn the_flows_writes_are_read_back_from_the_cache_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let store = SqliteStore::open(&db, key()).await.unwrap();
    store.insert_client(&client("app-1")).await.unwrap();
    let par = ParRecord {
        request_uri: "urn:ietf:params:oauth:request_uri:behind".into(),
        client_id: "app-1".into(),
        params: json!({"response_type": "code"}),
        expires_at: T0 + Duration::seconds(90),
        used_at: None,
    };
    store.insert_par_request(&par).await.unwrap();
    let pending = Consent::new("c-behind".into(), "app-1".into(), request(), T0);
    store.insert_pending_consent(&pending, &bank_tokens(), T0).await.unwrap();

    let behind = rusqlite::Connection::open(&db).unwrap();
    behind.execute_batch("DELETE FROM par_requests; DELETE FROM bank_tokens; DELETE FROM consents;").unwrap();
    assert_eq!(store.par_request(&par.request_uri).await.unwrap(), Some(par.clone()));
    assert_eq!(store.consent("c-behind").await.unwrap(), Some(pending));
    assert_eq!(store.bank_tokens("c-behind").await.unwrap(), Some(bank_tokens()));
    let fresh = SqliteStore::open(&db, key()).await.unwrap();
    assert_eq!(fresh.par_request(&par.request_uri).await.unwrap(), None);
    assert_eq!(fresh.consent("c-behind").await.unwrap(), None);
    fresh.close().await;
    store.close().await;
}

/// Migration 0006 rebuilds the access log without AUTOINCREMENT: records written before it keep their `seq` and
/// order, records written after it continue above them, and the sequence table no longer counts the log (one page
/// less per commit). Migration 0007 then drops the consent's index (one page less again), and 0008 leaves tokens
/// one index, partial (the statements that used the dropped ones are checked against SQLite's plan in
/// `store::sqlite`'s unit tests).
#[tokio::test]
async fn the_access_log_keeps_its_records_and_order_across_the_rowid_migration() {
    use sqlx::{ConnectOptions as _, Connection as _};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let mut old =
        sqlx::sqlite::SqliteConnectOptions::new().filename(&db).create_if_missing(true).connect().await.unwrap();
    sqlx::migrate!("./migrations/sqlite").run_to(5, &mut old).await.unwrap();
    for i in 1..=3 {
        sqlx::query(
            "INSERT INTO audit_log (at, client_id, consent_id, bank, person, endpoint, account_id, clusters, status, \
             outcome, interaction_id) VALUES (1, 'app-1', 'c1', 'first-national', 'p1', 'accounts', NULL, \
             'ACCOUNT_BASIC', 200, 'served', $1)",
        )
        .bind(format!("ia-{i}"))
        .execute(&mut old)
        .await
        .unwrap();
    }
    // A gap, as AUTOINCREMENT allows: the next record must still come after the largest seq.
    sqlx::query("UPDATE audit_log SET seq = 40 WHERE interaction_id = 'ia-3'").execute(&mut old).await.unwrap();
    old.close().await.unwrap();

    let store = SqliteStore::open(&db, key()).await.unwrap();
    store.append_audit(access(4, "c1", "p1", AuditOutcome::Denied)).await.unwrap();
    let log = store.audit_of_consent(&subject("p1"), "c1", 10).await.unwrap();
    let order: Vec<(i64, &str)> = log.iter().map(|r| (r.seq, r.interaction_id.as_str())).collect();
    assert_eq!(order, [(41, "ia-4"), (40, "ia-3"), (2, "ia-2"), (1, "ia-1")]);
    assert_eq!(log[1].outcome, AuditOutcome::Served);
    assert_eq!(log[1].clusters, [DataCluster::AccountBasic]);
    store.close().await;

    let mut after = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).connect().await.unwrap();
    let schema: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'audit_log'")
        .fetch_one(&mut after)
        .await
        .unwrap();
    assert!(!schema.contains("AUTOINCREMENT"), "{schema}");
    let counted: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'")
        .fetch_optional(&mut after)
        .await
        .unwrap();
    assert_eq!(counted, None);
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log' ORDER BY name",
    )
    .fetch_all(&mut after)
    .await
    .unwrap();
    assert_eq!(indexes, ["audit_log_by_person"], "migration 0007 keeps the person's index only");
    let token_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tokens' AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&mut after)
    .await
    .unwrap();
    assert_eq!(token_indexes, ["tokens_by_consent"]);
    after.close().await.unwrap();
}

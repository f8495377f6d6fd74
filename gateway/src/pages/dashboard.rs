//! The person's dashboard (DESIGN.md "Interfaces": connected apps, what each may see and why, when it last looked,
//! revoke; flow 6): server-rendered HTML, no JavaScript, CSRF tokens on every form (RFC 6749 §10.12 style, compared
//! in constant time), the pages' security headers (`frame-ancestors 'none'`, no-store, no CORS).
//!
//! Sign-in goes through the person's bank, never a gateway password: `POST /dashboard/signin` sends the browser to
//! the bank's authorization endpoint with `scope=openid` only (the banks' sign-in-only request: log in, share
//! nothing), PKCE S256 and a fresh `state`; the bank's redirect arrives at the same callback as the consent flow
//! (`/banks/{id}/callback`, registered exactly at the bank), which hands it here when it carries this session's
//! `state`; the code is exchanged over mTLS and the bank's pairwise subject identifier (`sub`, stable per person
//! and gateway) is the person. The consents of that person at that bank are listed with their clusters in plain
//! words, purposes, accounts, lookback, expiry and last access, and the access log (the audit records of every app
//! reading under them). Revocation is one button per app: [`crate::revocation::revoke`] with initiator `person`;
//! it is acknowledged (303 back to the dashboard) only after it committed.
//!
//! Sessions live in memory (bounded, expiring on the gateway's clock), in the `__Host-gw_dashboard` cookie
//! (Secure, HttpOnly, SameSite=Lax). This module must never print a session id, CSRF token or PKCE verifier, and
//! never show one person another person's consents (every lookup is by the signed-in bank and subject).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};

use super::session::{Expiring, Sessions, csrf_matches, session_cookie_id};
use super::{FormPairs, message, page, random_text, see_other, single, with_cookie};
use crate::app::AppState;
use crate::banks::{CallbackError, PkceVerifier};
use crate::consent::{Consent, ConsentStatus, Initiator, RevocationReason};
use crate::revocation;
use crate::store::{AuditOutcome, ConsentRevocationOutcome};

pub const DASHBOARD_PATH: &str = "/dashboard";
pub const SIGNIN_PATH: &str = "/dashboard/signin";
pub const REVOKE_PATH: &str = "/dashboard/revoke";
pub const SIGNOUT_PATH: &str = "/dashboard/signout";
pub const DASHBOARD_COOKIE: &str = "__Host-gw_dashboard";
/// A dashboard session lasts this long from its last page.
pub const DASHBOARD_SESSION_LIFETIME: Duration = Duration::minutes(30);
/// Access-log rows shown.
const ACCESS_LOG_ROWS: u32 = 100;

#[derive(Clone)]
enum DashStage {
    /// The sign-in page is shown.
    Anonymous,
    /// Sent to `bank` with `bank_state` and the PKCE `verifier`.
    SigningIn { bank: String, bank_state: String, verifier: PkceVerifier },
    /// Signed in as `person` (the bank's pairwise subject) at `bank`.
    SignedIn { bank: String, person: String },
}

/// One browser's dashboard session.
#[derive(Clone)]
pub struct DashboardSession {
    csrf: String,
    stage: DashStage,
    expires_at: OffsetDateTime,
}

impl Expiring for DashboardSession {
    fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }
}

/// The live dashboard sessions.
pub type DashboardSessions = Sessions<DashboardSession>;

fn dashboard_cookie(id: &str) -> String {
    format!("{DASHBOARD_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

fn cleared_dashboard_cookie() -> String {
    format!("{DASHBOARD_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The dashboard session id from the cookies.
fn dashboard_id(headers: &HeaderMap) -> Option<String> {
    session_cookie_id(headers, DASHBOARD_COOKIE)
}

// ---------------------------------------------------------------------------------------------------------------
// Templates

#[derive(Template)]
#[template(path = "dashboard/signin.html")]
struct SignInTemplate {
    csrf: String,
    banks: Vec<(String, String)>,
}

struct ConnectedApp {
    consent_id: String,
    app_name: String,
    sandbox: bool,
    active: bool,
    status: String,
    data: Vec<&'static str>,
    purposes: Vec<&'static str>,
    accounts: Vec<String>,
    lookback_days: u32,
    granted_on: String,
    expires_on: String,
    last_access: String,
}

struct AccessRow {
    at: String,
    app_name: String,
    endpoint: String,
    account: String,
    data: String,
    outcome: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomeTemplate {
    csrf: String,
    bank_name: String,
    apps: Vec<ConnectedApp>,
    accesses: Vec<AccessRow>,
}

fn day(t: OffsetDateTime) -> String {
    format!("{} {} {}", t.day(), t.month(), t.year())
}

fn minute(t: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", day(t), t.hour(), t.minute())
}

// ---------------------------------------------------------------------------------------------------------------
// Handlers

/// `GET /dashboard`: the sign-in page, or the signed-in person's connected apps and access log.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let now = state.now();
    let existing = dashboard_id(&headers).and_then(|id| state.dashboard.get(&id, now).map(|s| (id, s)));
    match existing {
        Some((id, mut session)) => {
            if let DashStage::SignedIn { bank, person } = session.stage.clone() {
                session.expires_at = now + DASHBOARD_SESSION_LIFETIME;
                let csrf = session.csrf.clone();
                state.dashboard.put(&id, session, now);
                return signed_in_page(&state, &bank, &person, csrf).await;
            }
            session.stage = DashStage::Anonymous;
            let csrf = session.csrf.clone();
            state.dashboard.put(&id, session, now);
            signin_page(&state, csrf)
        }
        None => {
            let (Some(id), Some(csrf)) = (random_text(32), random_text(32)) else {
                return message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "No randomness available.");
            };
            let session = DashboardSession {
                csrf: csrf.clone(),
                stage: DashStage::Anonymous,
                expires_at: now + DASHBOARD_SESSION_LIFETIME,
            };
            state.dashboard.put(&id, session, now);
            with_cookie(signin_page(&state, csrf), dashboard_cookie(&id))
        }
    }
}

fn signin_page(state: &AppState, csrf: String) -> Response {
    let banks = state.banks.iter().map(|b| (b.bank().id().to_owned(), b.bank().display_name().to_owned())).collect();
    let mut csp = vec!["'self'".to_owned()];
    csp.extend(state.banks.iter().filter_map(|b| super::origin(b.bank().issuer())));
    let csp =
        format!("default-src 'none'; style-src 'unsafe-inline'; form-action {}; frame-ancestors 'none'", csp.join(" "));
    page(StatusCode::OK, &SignInTemplate { csrf, banks }, Some(csp))
}

async fn signed_in_page(state: &AppState, bank: &str, person: &str, csrf: String) -> Response {
    let now = state.now();
    let consents = match state.store.consents_for_person(bank, person).await {
        Ok(c) => c,
        Err(err) => return super::store_failed(&err),
    };
    let accesses = match state.store.audit_of_person(bank, person, ACCESS_LOG_ROWS).await {
        Ok(a) => a,
        Err(err) => return super::store_failed(&err),
    };
    let mut names: HashMap<String, (String, bool)> = HashMap::new();
    for client_id in consents.iter().map(|c| &c.client_id).chain(accesses.iter().map(|a| &a.client_id)) {
        if names.contains_key(client_id) {
            continue;
        }
        let entry = match state.store.client(client_id).await {
            Ok(Some(client)) => {
                let name = client.metadata.get("client_name").and_then(|n| n.as_str()).unwrap_or(client_id).to_owned();
                (name, client.profile == crate::store::ClientProfile::Sandbox)
            }
            _ => (client_id.clone(), false),
        };
        names.insert(client_id.clone(), entry);
    }
    let name_of =
        |client_id: &str| names.get(client_id).map(|(n, _)| n.clone()).unwrap_or_else(|| client_id.to_owned());
    let apps = consents
        .iter()
        .filter(|c| c.status != ConsentStatus::Pending)
        .map(|c| connected_app(c, now, &names, accesses.iter().find(|a| a.consent_id == c.id).map(|a| a.at)))
        .collect();
    let accesses = accesses
        .iter()
        .map(|a| AccessRow {
            at: minute(a.at),
            app_name: name_of(&a.client_id),
            endpoint: a.endpoint.replace('_', " "),
            account: a.account_id.clone().unwrap_or_else(|| "all shared".to_owned()),
            data: a.clusters.iter().map(|c| c.as_fdx()).collect::<Vec<_>>().join(", "),
            outcome: match a.outcome {
                AuditOutcome::Served => "read",
                AuditOutcome::Denied => "refused",
                AuditOutcome::Failed => "bank unavailable",
            },
        })
        .collect();
    let bank_name = state.banks.get(bank).map_or_else(|| bank.to_owned(), |b| b.bank().display_name().to_owned());
    page(StatusCode::OK, &HomeTemplate { csrf, bank_name, apps, accesses }, None)
}

fn connected_app(
    c: &Consent,
    now: OffsetDateTime,
    names: &HashMap<String, (String, bool)>,
    last_access: Option<OffsetDateTime>,
) -> ConnectedApp {
    let (app_name, sandbox) = names.get(&c.client_id).cloned().unwrap_or_else(|| (c.client_id.clone(), false));
    let status = match c.status_at(now) {
        ConsentStatus::Authorized => "Sharing".to_owned(),
        ConsentStatus::Expired => "Expired".to_owned(),
        ConsentStatus::Revoked => match c.revocations.last() {
            Some(r) => {
                let by = match r.initiator {
                    Initiator::Person => "you",
                    Initiator::App => "the app",
                    Initiator::Bank => "your bank",
                    Initiator::Gateway => "bankgate",
                };
                format!("Stopped by {by} on {}", day(r.at))
            }
            None => "Stopped".to_owned(),
        },
        ConsentStatus::Pending => "Not finished".to_owned(),
    };
    ConnectedApp {
        consent_id: c.id.clone(),
        app_name,
        sandbox,
        active: c.is_active(now),
        status,
        data: c.request.clusters.iter().map(|k| k.description()).collect(),
        purposes: c.request.purposes.iter().map(|p| p.description()).collect(),
        accounts: c.accounts.clone(),
        lookback_days: c.request.lookback.days(),
        granted_on: c.authorized_at.map(day).unwrap_or_default(),
        expires_on: c.expires_at.map(day).unwrap_or_else(|| "when you stop it".to_owned()),
        last_access: last_access.map(minute).unwrap_or_else(|| "never".to_owned()),
    }
}

/// A checked dashboard form: the session id, the session and the form's pairs.
type Checked = (String, DashboardSession, Vec<(String, String)>);

fn checked(state: &AppState, headers: &HeaderMap, form: FormPairs) -> Result<Checked, Box<Response>> {
    let expired = || {
        Box::new(message(
            StatusCode::BAD_REQUEST,
            "Your session has ended",
            "Open the dashboard again and sign in with your bank.",
        ))
    };
    let id = dashboard_id(headers).ok_or_else(expired)?;
    let session = state.dashboard.get(&id, state.now()).ok_or_else(expired)?;
    let Ok(axum::Form(pairs)) = form else {
        return Err(Box::new(super::invalid_request_page("The form was not sent as a web form, or it was too large.")));
    };
    if !csrf_matches(&session.csrf, single(&pairs, "csrf").ok().flatten()) {
        return Err(Box::new(super::csrf_failed()));
    }
    Ok((id, session, pairs))
}

/// `POST /dashboard/signin` (`csrf`, `bank`): off to the bank's sign-in.
pub async fn signin(State(state): State<AppState>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, mut session, pairs) = match checked(&state, &headers, form) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let Some(client) = single(&pairs, "bank").ok().flatten().and_then(|bank| state.banks.get(bank)) else {
        return super::invalid_request_page("Choose one of the listed banks.");
    };
    let Some(bank_state) = random_text(32) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "No randomness available.");
    };
    let (url, verifier) = client.authorize_url(&bank_state, &["openid".to_owned()], &[], None, None, None);
    let bank = client.bank().id().to_owned();
    let now = state.now();
    session.stage = DashStage::SigningIn { bank, bank_state, verifier };
    session.expires_at = now + DASHBOARD_SESSION_LIFETIME;
    state.dashboard.put(&id, session, now);
    see_other(url.as_str())
}

/// The bank's redirect back, when it belongs to a dashboard sign-in of this browser (its `state` is this
/// session's); `None` hands it to the consent flow.
pub async fn callback(
    state: &AppState,
    bank_id: &str,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Option<Response> {
    let id = dashboard_id(headers)?;
    let now = state.now();
    let mut session = state.dashboard.get(&id, now)?;
    let DashStage::SigningIn { bank, bank_state, verifier } = session.stage.clone() else { return None };
    let sent_state = single(pairs, "state").ok().flatten()?;
    if !bool::from(sent_state.as_bytes().ct_eq(bank_state.as_bytes())) {
        return None;
    }
    let Some(client) = state.banks.get(&bank).filter(|_| bank == bank_id) else {
        return Some(super::invalid_request_page("This answer comes from another bank than the one you chose."));
    };
    let code = match client.verify_callback(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), &bank_state) {
        Ok(code) => code,
        Err(CallbackError::Denied { .. }) => {
            session.stage = DashStage::Anonymous;
            state.dashboard.put(&id, session, now);
            return Some(message(StatusCode::OK, "You did not sign in", "Your bank did not sign you in. Try again."));
        }
        Err(err) => {
            tracing::warn!(bank = %bank, error = %err, "dashboard sign-in callback refused");
            return Some(super::invalid_request_page("The bank's answer does not belong to this sign-in."));
        }
    };
    let person = match client.exchange_code(&code, &verifier, now).await {
        Ok(tokens) => match tokens.subject {
            Some(sub) if !sub.is_empty() => sub,
            _ => {
                return Some(message(StatusCode::BAD_GATEWAY, "Your bank did not say who you are", "Try again later."));
            }
        },
        Err(err) => {
            tracing::warn!(bank = %bank, error = %err, "dashboard sign-in code exchange failed");
            return Some(message(
                StatusCode::BAD_GATEWAY,
                "Your bank did not complete the sign-in",
                "Try again later.",
            ));
        }
    };
    // A new session id once signed in (no session fixation), with a new CSRF token.
    let (Some(new_id), Some(csrf)) = (random_text(32), random_text(32)) else {
        return Some(message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "No randomness available."));
    };
    state.dashboard.remove(&id);
    let signed_in = DashboardSession {
        csrf,
        stage: DashStage::SignedIn { bank, person },
        expires_at: now + DASHBOARD_SESSION_LIFETIME,
    };
    state.dashboard.put(&new_id, signed_in, now);
    Some(with_cookie(see_other(DASHBOARD_PATH), dashboard_cookie(&new_id)))
}

/// `POST /dashboard/revoke` (`csrf`, `consent_id`): stop one app's sharing, then back to the dashboard.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, form: FormPairs) -> Response {
    let (_, session, pairs) = match checked(&state, &headers, form) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let DashStage::SignedIn { bank, person } = session.stage else {
        return message(StatusCode::FORBIDDEN, "Sign in first", "Open the dashboard and sign in with your bank.");
    };
    let Some(consent_id) = single(&pairs, "consent_id").ok().flatten() else {
        return super::invalid_request_page("Choose the app to stop.");
    };
    let not_yours = || message(StatusCode::NOT_FOUND, "No such app", "This sharing is not one of yours.");
    let consent = match state.store.consent(consent_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_yours(),
        Err(err) => return super::store_failed(&err),
    };
    let owned = consent.subject.as_ref().is_some_and(|s| s.bank == bank && s.person == person);
    if !owned {
        return not_yours();
    }
    match revocation::revoke(&state, consent_id, RevocationReason::UserAction, Initiator::Person, state.now()).await {
        Ok(ConsentRevocationOutcome::Revoked { .. } | ConsentRevocationOutcome::Refused(_)) => {
            see_other(DASHBOARD_PATH)
        }
        Ok(ConsentRevocationOutcome::NotFound) => not_yours(),
        Err(err) => super::store_failed(&err),
    }
}

/// `POST /dashboard/signout` (`csrf`).
pub async fn signout(State(state): State<AppState>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, _, _) = match checked(&state, &headers, form) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    state.dashboard.remove(&id);
    with_cookie(see_other(DASHBOARD_PATH), cleared_dashboard_cookie())
}

//! RFC 8414 authorization server metadata (`/.well-known/oauth-authorization-server`, and the same document at
//! `/.well-known/openid-configuration` for OpenID-style discovery) and the RFC 7517 JWKS at `/jwks`.
//!
//! The document announces only what this deployment does: `client_secret_basic` appears only while the sandbox
//! profile is switched on (and so does our extension member `bankgate_sandbox_consents_endpoint`, the sandbox
//! consent shortcut), and `grant_types_supported` lists the grants the token endpoint implements today. The
//! JWKS must never contain private key members (it is built from [`KeySet::jwks`](crate::oauth::keys::KeySet)).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::{AUTHORIZE_PATH, INTROSPECT_PATH, JWKS_PATH, PAR_PATH, REGISTER_PATH, REVOKE_PATH, TOKEN_PATH};
use crate::app::AppState;
use crate::consent::{AUTHORIZATION_DETAILS_TYPE, DataCluster};
use crate::oauth::endpoints::token::{CLIENT_CREDENTIALS_SCOPES, GRANT_TYPES_IMPLEMENTED};

/// FAPI 2.0 §5.4.1: the JWS algorithms accepted for client assertions and DPoP proofs.
pub const SIGNING_ALGS: [&str; 3] = ["PS256", "ES256", "EdDSA"];

/// The RFC 8414 metadata document of `state`'s deployment.
pub fn document(state: &AppState) -> Value {
    let mut auth_methods = vec!["private_key_jwt", "tls_client_auth"];
    if state.config.allow_sandbox_profile {
        auth_methods.push("client_secret_basic");
    }
    let scopes: Vec<&str> = DataCluster::ALL.iter().map(|c| c.scope()).chain(CLIENT_CREDENTIALS_SCOPES).collect();
    let mut document = json!({
        "issuer": &*state.issuer,
        "authorization_endpoint": state.url(AUTHORIZE_PATH),
        "token_endpoint": state.url(TOKEN_PATH),
        "pushed_authorization_request_endpoint": state.url(PAR_PATH),
        "registration_endpoint": state.url(REGISTER_PATH),
        "introspection_endpoint": state.url(INTROSPECT_PATH),
        "revocation_endpoint": state.url(REVOKE_PATH),
        "jwks_uri": state.url(JWKS_PATH),
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "dpop_signing_alg_values_supported": SIGNING_ALGS,
        "code_challenge_methods_supported": ["S256"],
        "require_pushed_authorization_requests": true,
        "authorization_response_iss_parameter_supported": true,
        "tls_client_certificate_bound_access_tokens": true,
        "authorization_details_types_supported": [AUTHORIZATION_DETAILS_TYPE],
        "scopes_supported": scopes,
        "grant_types_supported": GRANT_TYPES_IMPLEMENTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "sandbox_profile_enabled": state.config.allow_sandbox_profile,
    });
    // Our extension member (RFC 8414 §2 allows additional metadata): the sandbox-only consent shortcut, announced
    // only where it exists.
    if state.config.allow_sandbox_profile {
        document["bankgate_sandbox_consents_endpoint"] = json!(state.url(super::sandbox::SANDBOX_CONSENTS_PATH));
    }
    document
}

pub async fn authorization_server(State(state): State<AppState>) -> Json<Value> {
    Json(document(&state))
}

pub async fn openid_configuration(State(state): State<AppState>) -> Json<Value> {
    Json(document(&state))
}

/// RFC 7517 §5: the public keys access tokens are signed with (active and still-verifying previous keys).
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.keys.jwks())
}

//! The small cryptographic pieces of the bank's authorization server: unguessable random values (tokens, codes,
//! session ids, CSRF tokens), SHA-256 hashes under which secrets are kept, constant-time comparison and the
//! RFC 7636 PKCE S256 check.
//!
//! Random values come from the operating system (`rand::rngs::SysRng`), never from a seeded or deterministic RNG:
//! the simulation's determinism stops at the ledger; a token must not be predictable. Nothing here logs or prints a
//! secret.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRng as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::error::AuthError;

/// A random 256-bit value, base64url without padding (43 characters).
pub(crate) fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes).map_err(|err| {
        tracing::error!(error = %err, "operating system randomness failed");
        AuthError::ServerError("the bank could not create a random value".into())
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a secret: the form under which tokens, codes and session ids are stored and looked up.
pub(crate) fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time equality of two strings (length may leak, content does not).
pub(crate) fn ct_eq_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// RFC 7636 §4.1/§4.2: a code verifier or an S256 challenge is 43-128 characters of `[A-Za-z0-9-._~]`.
pub(crate) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6: `BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge`, compared in constant time.
pub(crate) fn pkce_s256_matches(code_verifier: &str, code_challenge: &str) -> bool {
    if !is_pkce_value(code_verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
    ct_eq_str(&computed, code_challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(&verifier.replace('d', "e"), challenge));
        assert!(!pkce_s256_matches("short", challenge));
    }

    #[test]
    fn random_tokens_are_256_bit_and_distinct() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(is_pkce_value(&a));
    }
}

//! Secrets the gateway holds on a bank's behalf (bank tokens, authorization codes, PKCE verifiers).
//!
//! They must never be printed: `Debug` shows `<hidden>`, there is no `Display`, and equality is constant-time.

use std::fmt;

use subtle::ConstantTimeEq;

/// A bank-issued secret: an access or refresh token, or an authorization code.
#[derive(Clone)]
pub struct BankSecret(String);

impl BankSecret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, to put on the wire or seal into the store. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BankSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BankSecret(<hidden>)")
    }
}

impl PartialEq for BankSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for BankSecret {}

/// The RFC 7636 §4.1 `code_verifier` of one authorization request; kept until the code comes back.
#[derive(Clone)]
pub struct PkceVerifier(String);

impl PkceVerifier {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let token = BankSecret::new("tok_very_secret");
        let verifier = PkceVerifier::new("verifier_very_secret");
        assert_eq!(format!("{token:?}"), "BankSecret(<hidden>)");
        assert!(!format!("{verifier:?}").contains("very_secret"));
        assert_eq!(token, BankSecret::new("tok_very_secret"));
        assert_ne!(token, BankSecret::new("tok_other"));
    }
}

//! PKCE (RFC 7636) as FAPI 2.0 Security Profile §5.3.2.2 demands it: `S256` only (`plain` refused), checked at
//! the authorization/PAR request ([`CodeChallenge::from_request`]) and at the token endpoint
//! ([`CodeChallenge::verify`]); plus [`PkcePair::generate`] for the gateway's own role as a bank's OAuth client.
//!
//! Must never accept `plain`, a missing verifier, or compare challenges with a short-circuiting comparison, and
//! never log a verifier.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::error::{OAuthError, OAuthErrorCode};

/// Why a PKCE parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// RFC 7636 §4.4.1: the authorization request carries no `code_challenge` (FAPI 2.0: PKCE is mandatory).
    #[error("code_challenge is required (PKCE with S256)")]
    MissingChallenge,
    /// FAPI 2.0 §5.3.2.2 item 3: only S256; `plain` (also the RFC 7636 default when the method is absent) refused.
    #[error("code_challenge_method must be S256")]
    MethodNotS256,
    /// RFC 7636 §4.2: an S256 challenge is 43 base64url characters (a SHA-256 digest).
    #[error("code_challenge is not a base64url SHA-256 value")]
    MalformedChallenge,
    /// RFC 7636 §4.5: the token request carries no `code_verifier`.
    #[error("code_verifier is required")]
    MissingVerifier,
    /// RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
    #[error("code_verifier must be 43 to 128 unreserved characters")]
    MalformedVerifier,
    /// RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) differs from the stored challenge.
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

impl PkceError {
    /// The RFC 6749 error: `invalid_request` at the authorization/PAR endpoint (RFC 7636 §4.4.1), `invalid_grant`
    /// at the token endpoint (RFC 7636 §4.6).
    pub fn oauth_error(&self) -> OAuthError {
        let code = match self {
            Self::MissingChallenge | Self::MethodNotS256 | Self::MalformedChallenge => OAuthErrorCode::InvalidRequest,
            Self::MissingVerifier | Self::MalformedVerifier | Self::Mismatch => OAuthErrorCode::InvalidGrant,
        };
        OAuthError::new(code, self.to_string())
    }
}

/// A validated S256 code challenge, as stored with the PAR request and the authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()))
}

fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl CodeChallenge {
    /// Validates the `code_challenge` and `code_challenge_method` request parameters (RFC 7636 §4.3).
    pub fn from_request(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.filter(|c| !c.is_empty()).ok_or(PkceError::MissingChallenge)?;
        // RFC 7636 §4.3: an absent method means "plain", which FAPI 2.0 refuses.
        if method != Some("S256") {
            return Err(PkceError::MethodNotS256);
        }
        Self::from_stored(challenge)
    }

    /// Rebuilds a challenge read back from the store (same shape rule as at request time).
    pub fn from_stored(challenge: &str) -> Result<Self, PkceError> {
        let decodes_to_digest = URL_SAFE_NO_PAD.decode(challenge).is_ok_and(|d| d.len() == 32);
        if challenge.len() != 43 || !decodes_to_digest {
            return Err(PkceError::MalformedChallenge);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge string (not a secret: it is a hash), for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: checks `code_verifier` from the token request against this challenge, in constant time.
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), PkceError> {
        let verifier = verifier.ok_or(PkceError::MissingVerifier)?;
        if !is_valid_verifier(verifier) {
            return Err(PkceError::MalformedVerifier);
        }
        if bool::from(s256(verifier).as_bytes().ct_eq(self.0.as_bytes())) { Ok(()) } else { Err(PkceError::Mismatch) }
    }
}

/// A verifier and its S256 challenge, for when the gateway itself is the OAuth client (of a bank).
pub struct PkcePair {
    verifier: String,
    challenge: CodeChallenge,
}

impl fmt::Debug for PkcePair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PkcePair").field("verifier", &"<hidden>").field("challenge", &self.challenge).finish()
    }
}

impl PkcePair {
    /// 32 random bytes from the OS, base64url: a 43-character verifier (RFC 7636 §4.1, §7.1).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = CodeChallenge(s256(&verifier));
        Ok(Self { verifier, challenge })
    }

    /// The secret verifier, sent in the token request only.
    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    /// The challenge, sent in the authorization request with `code_challenge_method=S256`.
    pub fn challenge(&self) -> &CodeChallenge {
        &self.challenge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_verifies() {
        let c = CodeChallenge::from_request(Some(CHALLENGE), Some("S256")).expect("valid challenge");
        assert_eq!(c.verify(Some(VERIFIER)), Ok(()));
    }

    #[test]
    fn missing_challenge_plain_and_absent_method_are_refused() {
        assert_eq!(CodeChallenge::from_request(None, Some("S256")), Err(PkceError::MissingChallenge));
        assert_eq!(CodeChallenge::from_request(Some(VERIFIER), Some("plain")), Err(PkceError::MethodNotS256));
        assert_eq!(CodeChallenge::from_request(Some(CHALLENGE), None), Err(PkceError::MethodNotS256));
        assert_eq!(CodeChallenge::from_request(Some("short"), Some("S256")), Err(PkceError::MalformedChallenge));
        assert_eq!(
            CodeChallenge::from_request(None, None).map_err(|e| e.oauth_error().error),
            Err(OAuthErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn wrong_missing_or_malformed_verifier_is_invalid_grant() {
        let c = CodeChallenge::from_stored(CHALLENGE).expect("valid");
        let wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(c.verify(Some(wrong)), Err(PkceError::Mismatch));
        assert_eq!(c.verify(None), Err(PkceError::MissingVerifier));
        assert_eq!(c.verify(Some("too-short")), Err(PkceError::MalformedVerifier));
        assert_eq!(c.verify(Some(&"a".repeat(129))), Err(PkceError::MalformedVerifier));
        assert_eq!(c.verify(Some(&format!("{}!", &VERIFIER[..42]))), Err(PkceError::MalformedVerifier));
        // Sending the challenge itself as the verifier (the `plain` downgrade) fails.
        assert_eq!(c.verify(Some(CHALLENGE)), Err(PkceError::Mismatch));
        assert_eq!(c.verify(None).map_err(|e| e.oauth_error().error), Err(OAuthErrorCode::InvalidGrant));
    }

    #[test]
    fn generated_pair_verifies_and_hides_the_verifier() {
        let pair = PkcePair::generate().expect("os rng");
        assert_eq!(pair.verifier().len(), 43);
        assert_eq!(pair.challenge().verify(Some(pair.verifier())), Ok(()));
        assert!(!format!("{pair:?}").contains(pair.verifier()));
    }
}

//! JWS signatures of the notifications a bank delivers (RFC 7515 compact serialization, ES256 per RFC 7518 §3.4).
//!
//! The key is the private key of the bank's own TLS client certificate (`bank-{id}`, issued by the dev CA), so the
//! receiver can check one fact twice: the certificate the connection presented and the key that signed the body.
//! The protected header is `{"alg":"ES256","typ":"JOSE","x5t#S256":<base64url SHA-256 of the certificate DER>}`
//! (RFC 7515 §4.1.8: the certificate's thumbprint). The key is parsed once; signing is a single ECDSA P-256
//! operation (about 50 µs). This module never logs or exposes the key.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Why a signer could not be built or could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the client certificate's key is not an ECDSA P-256 PKCS#8 key (ES256 needs one): {0}")]
    Key(String),
    #[error("signing failed")]
    Sign,
}

/// An ES256 signer holding the parsed key and the encoded protected header.
pub struct JwsSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// base64url of the protected header, followed by `.`.
    header_b64: String,
    thumbprint: String,
}

impl std::fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwsSigner").field("x5t#S256", &self.thumbprint).field("key", &"<hidden>").finish()
    }
}

impl JwsSigner {
    /// A signer for `identity` (its certificate names itself in the header, its key signs).
    pub fn new(identity: &certs::Identity) -> Result<Self, SignError> {
        let key_der = identity.key_der();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key_der.secret_der())
            .map_err(|e| SignError::Key(e.to_string()))?;
        let thumbprint = URL_SAFE_NO_PAD.encode(identity.sha256_thumbprint());
        let header = serde_json::json!({"alg": "ES256", "typ": "JOSE", "x5t#S256": thumbprint});
        let header_b64 = format!("{}.", URL_SAFE_NO_PAD.encode(header.to_string()));
        Ok(Self { key, rng: SystemRandom::new(), header_b64, thumbprint })
    }

    /// `x5t#S256` of the signing certificate (base64url).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// RFC 7515 §7.1 compact serialization of `payload`: `header.payload.signature`, the signature over the ASCII
    /// of `header.payload` (§5.1 step 5), ES256's fixed 64-byte `R || S` (RFC 7518 §3.4).
    pub fn sign(&self, payload: &[u8]) -> Result<String, SignError> {
        let encoded = URL_SAFE_NO_PAD.encode(payload);
        let mut out = String::with_capacity(self.header_b64.len() + encoded.len() + 90);
        out.push_str(&self.header_b64);
        out.push_str(&encoded);
        let signature = self.key.sign(&self.rng, out.as_bytes()).map_err(|_| SignError::Sign)?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    #[test]
    fn signatures_verify_with_the_certificate_key_and_name_the_certificate() {
        let pki = certs::Pki::generate().unwrap();
        let identity = pki.issue_client("bank-test").unwrap();
        let signer = JwsSigner::new(&identity).unwrap();
        let jws = signer.sign(br#"{"a":1}"#).unwrap();
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "JOSE");
        assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(identity.sha256_thumbprint()));
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[1]).unwrap(), br#"{"a":1}"#);
        let cert = public_point(&identity);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(signature.len(), 64);
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &cert).verify(signed.as_bytes(), &signature).unwrap();
        let mut tampered = signed.into_bytes();
        tampered[5] ^= 1;
        assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &cert).verify(&tampered, &signature).is_err());
    }

    /// The certificate's public key: the uncompressed P-256 point in the BIT STRING right after the P-256 curve OID
    /// of its SubjectPublicKeyInfo.
    fn public_point(identity: &certs::Identity) -> Vec<u8> {
        let der = identity.cert_der();
        let oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let at = der.windows(oid.len()).position(|w| w == oid).expect("P-256 OID") + oid.len();
        // BIT STRING: 0x03 len 0x00 0x04 X Y
        assert_eq!(der[at], 0x03);
        let point = der[at + 3..at + 3 + 65].to_vec();
        assert_eq!(point[0], 0x04);
        point
    }
}

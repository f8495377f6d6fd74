//! Encryption at rest for bank tokens: AES-256-GCM (`aws_lc_rs::aead`) with a fresh random 96-bit nonce per seal
//! and the consent id as associated data, so a ciphertext copied to another consent's row fails to open.
//!
//! Sealed format: `0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)`; the leading byte names the format so a
//! key rotation can follow. The key comes from configuration (32 bytes, hex or base64) or is generated once into the
//! data directory as `gateway-store.key` (hex, mode 0600). This module must never log or print a key or a plaintext:
//! [`SealKey`]'s `Debug` prints `<hidden>`.

use super::StoreError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// File name of the generated key inside the data directory.
pub const KEY_FILE_NAME: &str = "gateway-store.key";
const FORMAT_V1: u8 = 1;
const TAG_LEN: usize = 16;

/// The AEAD key that seals bank tokens.
pub struct SealKey {
    key: LessSafeKey,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(<hidden>)")
    }
}

impl SealKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<SealKey, StoreError> {
        if bytes.len() != 32 {
            return Err(StoreError::Key(format!("the store key must be 32 bytes, got {}", bytes.len())));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| StoreError::Key("the store key was refused by AES-256-GCM".into()))?;
        Ok(SealKey { key: LessSafeKey::new(unbound) })
    }

    /// A key from its configured text form: 64 hex digits, or base64 (standard or URL-safe, padded or not) of 32
    /// bytes. Surrounding whitespace is ignored. The error never repeats the text.
    pub fn parse(text: &str) -> Result<SealKey, StoreError> {
        let text = text.trim();
        if text.len() == 64
            && let Ok(bytes) = hex::decode(text)
        {
            return Self::from_bytes(&bytes);
        }
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for engine in engines {
            if let Ok(bytes) = engine.decode(text) {
                return Self::from_bytes(&bytes);
            }
        }
        Err(StoreError::Key("the store key must be 32 bytes as 64 hex digits or as base64".into()))
    }

    /// A fresh random key (and its bytes, to be written somewhere safe).
    pub fn generate() -> Result<(SealKey, [u8; 32]), StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Key(format!("no randomness for a store key: {e}")))?;
        Ok((Self::from_bytes(&bytes)?, bytes))
    }

    /// The key from configuration when given, else the one in `data_dir/gateway-store.key`, generating that file
    /// (mode 0600, created exclusively) when it does not exist yet.
    pub fn from_config_or_data_dir(configured: Option<&str>, data_dir: &Path) -> Result<SealKey, StoreError> {
        match configured {
            Some(text) => Self::parse(text),
            None => Self::load_or_create(&data_dir.join(KEY_FILE_NAME)),
        }
    }

    /// Reads the key file at `path`, or creates it with a fresh key.
    pub fn load_or_create(path: &Path) -> Result<SealKey, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| StoreError::Key(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(StoreError::Key(format!("cannot read {}: {e}", path.display()))),
        }
    }

    fn create(path: &Path) -> Result<SealKey, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| key_io(dir, e))?;
        }
        let (key, bytes) = Self::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes()).map_err(|e| key_io(path, e))?;
                file.sync_all().map_err(|e| key_io(path, e))?;
                tracing::info!(path = %path.display(), "generated a new store key for bank tokens at rest");
                Ok(key)
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(key_io(path, e)),
        }
    }

    /// Encrypts `plaintext` bound to `associated` (the consent id).
    pub fn seal(&self, plaintext: &[u8], associated: &str) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Key(format!("no randomness for a nonce: {e}")))?;
        let mut buffer = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| StoreError::Key("AES-256-GCM refused to seal".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buffer.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buffer);
        Ok(out)
    }

    /// Decrypts what [`seal`](Self::seal) produced for the same `associated` value; any tampering, a wrong key or a
    /// different associated value gives [`StoreError::Unseal`].
    pub fn open(&self, sealed: &[u8], associated: &str) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != FORMAT_V1 {
            return Err(StoreError::Unseal);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| StoreError::Unseal)?;
        let mut buffer = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(associated.as_bytes()), &mut buffer)
            .map_err(|_| StoreError::Unseal)?;
        Ok(plain.to_vec())
    }
}

fn key_io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Key(format!("{}: {e}", PathBuf::from(path).display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_only_with_the_same_key_and_consent() {
        let (key, _) = SealKey::generate().unwrap();
        let sealed = key.seal(b"bank-access-token", "consent-1").unwrap();
        assert!(!sealed.windows(17).any(|w| w == b"bank-access-token"));
        assert_eq!(key.open(&sealed, "consent-1").unwrap(), b"bank-access-token");
        assert!(matches!(key.open(&sealed, "consent-2"), Err(StoreError::Unseal)));
        let (other, _) = SealKey::generate().unwrap();
        assert!(matches!(other.open(&sealed, "consent-1"), Err(StoreError::Unseal)));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(key.open(&tampered, "consent-1"), Err(StoreError::Unseal)));
        assert!(matches!(key.open(&sealed[..10], "consent-1"), Err(StoreError::Unseal)));
        // A fresh nonce each time: sealing twice gives different bytes.
        assert_ne!(key.seal(b"x", "c").unwrap(), key.seal(b"x", "c").unwrap());
    }

    #[test]
    fn configured_keys_parse_from_hex_and_base64_and_never_print() {
        let bytes = [7u8; 32];
        let from_hex = SealKey::parse(&hex::encode(bytes)).unwrap();
        let from_b64 = SealKey::parse(&base64::engine::general_purpose::STANDARD.encode(bytes)).unwrap();
        let sealed = from_hex.seal(b"t", "c").unwrap();
        assert_eq!(from_b64.open(&sealed, "c").unwrap(), b"t");
        assert_eq!(format!("{from_hex:?}"), "SealKey(<hidden>)");
        let err = SealKey::parse("abcd").unwrap_err().to_string();
        assert!(!err.contains("abcd"), "{err}");
    }

    #[test]
    fn a_generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SealKey::from_config_or_data_dir(None, dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let again = SealKey::from_config_or_data_dir(None, dir.path()).unwrap();
        let sealed = first.seal(b"token", "c").unwrap();
        assert_eq!(again.open(&sealed, "c").unwrap(), b"token");
    }
}

//! The banks the gateway knows: id, display name, issuer (login listener) and API base, from configuration or from
//! a sandbox's `endpoints.json`.
//!
//! The issuer is kept exactly as configured: RFC 9207 §2.4 compares the `iss` of a redirect with it by simple string
//! comparison, so it must never be normalised here. Every URL must be `https` (FAPI 2.0 Security Profile §5.2.1).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a bank entry or directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("bank id `{0}` must be 1-64 characters of [a-z0-9_-]")]
    InvalidId(String),
    #[error("bank `{bank}`: {field} `{url}` must be an https URL without query or fragment")]
    InvalidUrl { bank: String, field: &'static str, url: String },
    #[error("bank `{0}` is listed twice")]
    Duplicate(String),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("endpoints file is not valid: {0}")]
    Parse(#[from] serde_json::Error),
}

/// One bank as the gateway sees it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawBank")]
pub struct BankEntry {
    id: String,
    display_name: String,
    issuer: String,
    api: String,
}

/// Wire shape of a bank in configuration and in `endpoints.json` (`login` is the issuer).
#[derive(Deserialize)]
struct RawBank {
    id: String,
    display_name: String,
    #[serde(alias = "issuer")]
    login: String,
    api: String,
}

impl TryFrom<RawBank> for BankEntry {
    type Error = DirectoryError;

    fn try_from(raw: RawBank) -> Result<Self, Self::Error> {
        BankEntry::new(raw.id, raw.display_name, raw.login, raw.api)
    }
}

impl BankEntry {
    /// `issuer`: the bank's OAuth issuer identifier, which is also its login origin (`{issuer}/oauth/authorize`);
    /// `api`: the FDX and token base (`{api}/fdx/v6/...`, `{api}/oauth/token`), mutual TLS.
    pub fn new(
        id: impl Into<String>,
        display_name: impl Into<String>,
        issuer: impl Into<String>,
        api: impl Into<String>,
    ) -> Result<Self, DirectoryError> {
        let (id, issuer, api) = (id.into(), issuer.into(), api.into());
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(DirectoryError::InvalidId(id));
        }
        check_url(&id, "issuer", &issuer)?;
        check_url(&id, "api", &api)?;
        Ok(Self { id, display_name: display_name.into(), issuer, api })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The issuer identifier, exactly as configured (RFC 9207 §2.4 compares `iss` with it).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn api(&self) -> &str {
        &self.api
    }

    /// RFC 6749 §3.1 authorization endpoint, on the login listener.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/oauth/authorize", self.issuer.trim_end_matches('/'))
    }

    /// RFC 6749 §3.2 token endpoint, on the API listener (mutual TLS).
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.api.trim_end_matches('/'))
    }

    /// RFC 7009 §2 revocation endpoint, on the API listener (mutual TLS).
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/oauth/revoke", self.api.trim_end_matches('/'))
    }

    /// `{api}{path}` for an FDX path such as `/fdx/v6/accounts`.
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{path}", self.api.trim_end_matches('/'))
    }
}

fn check_url(bank: &str, field: &'static str, url: &str) -> Result<(), DirectoryError> {
    let ok = oauth2::url::Url::parse(url)
        .is_ok_and(|u| u.scheme() == "https" && u.host().is_some() && u.query().is_none() && u.fragment().is_none());
    if ok { Ok(()) } else { Err(DirectoryError::InvalidUrl { bank: bank.to_owned(), field, url: url.to_owned() }) }
}

/// The banks the gateway knows, in configuration order, ids unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankDirectory {
    banks: Vec<BankEntry>,
}

impl<'de> Deserialize<'de> for BankDirectory {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let banks = Vec::<BankEntry>::deserialize(deserializer)?;
        BankDirectory::new(banks).map_err(serde::de::Error::custom)
    }
}

impl BankDirectory {
    pub fn new(banks: Vec<BankEntry>) -> Result<Self, DirectoryError> {
        for (index, bank) in banks.iter().enumerate() {
            if banks[..index].iter().any(|b| b.id == bank.id) {
                return Err(DirectoryError::Duplicate(bank.id.clone()));
            }
        }
        Ok(Self { banks })
    }

    pub fn get(&self, id: &str) -> Option<&BankEntry> {
        self.banks.iter().find(|b| b.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &BankEntry> {
        self.banks.iter()
    }

    pub fn len(&self) -> usize {
        self.banks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.banks.is_empty()
    }
}

/// What the gateway reads from a sandbox's `endpoints.json` (the root crate's `Endpoints`, version 1): the CA to
/// trust, its client certificate files, and the banks. Other fields (the admin token) are ignored, never kept.
#[derive(Debug, Clone, Deserialize)]
pub struct SandboxEndpoints {
    pub ca_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub banks: BankDirectory,
}

impl SandboxEndpoints {
    pub fn parse(json: &[u8]) -> Result<Self, DirectoryError> {
        Ok(serde_json::from_slice(json)?)
    }

    pub fn read(path: &Path) -> Result<Self, DirectoryError> {
        let bytes = std::fs::read(path).map_err(|source| DirectoryError::Read { path: path.to_owned(), source })?;
        Self::parse(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENDPOINTS: &str = r#"{
        "version": 1, "ca_cert": "/d/certs/ca.pem", "admin_token": "secret",
        "client_cert": "/d/certs/gateway-client.pem", "client_key": "/d/certs/gateway-client-key.pem",
        "banks": [
            {"id": "continental", "display_name": "Continental", "api": "https://127.0.0.1:9101",
             "login": "https://127.0.0.1:9102", "admin": "https://127.0.0.1:9103"},
            {"id": "harbor", "display_name": "Harbor Trust", "api": "https://127.0.0.1:9111",
             "login": "https://127.0.0.1:9112", "admin": "https://127.0.0.1:9113"}
        ]}"#;

    #[test]
    fn reads_the_sandbox_endpoints_shape() {
        let endpoints = SandboxEndpoints::parse(ENDPOINTS.as_bytes()).unwrap();
        assert_eq!(endpoints.ca_cert, PathBuf::from("/d/certs/ca.pem"));
        assert_eq!(endpoints.banks.len(), 2);
        let bank = endpoints.banks.get("continental").unwrap();
        assert_eq!(bank.issuer(), "https://127.0.0.1:9102");
        assert_eq!(bank.authorization_endpoint(), "https://127.0.0.1:9102/oauth/authorize");
        assert_eq!(bank.token_endpoint(), "https://127.0.0.1:9101/oauth/token");
        assert_eq!(bank.api_url("/fdx/v6/accounts"), "https://127.0.0.1:9101/fdx/v6/accounts");
        assert!(endpoints.banks.get("nowhere").is_none());
    }

    #[test]
    fn refuses_plain_http_bad_ids_and_duplicates() {
        assert!(matches!(
            BankEntry::new("b", "B", "http://127.0.0.1:1", "https://127.0.0.1:2"),
            Err(DirectoryError::InvalidUrl { field: "issuer", .. })
        ));
        assert!(matches!(BankEntry::new("Bad Id", "B", "https://a", "https://b"), Err(DirectoryError::InvalidId(_))));
        let bank = BankEntry::new("b", "B", "https://a", "https://b").unwrap();
        assert!(matches!(BankDirectory::new(vec![bank.clone(), bank]), Err(DirectoryError::Duplicate(_))));
        let twice = r#"[{"id":"b","display_name":"B","issuer":"https://a","api":"https://b"},
                        {"id":"b","display_name":"B","issuer":"https://a","api":"https://b"}]"#;
        assert!(serde_json::from_str::<BankDirectory>(twice).is_err());
    }
}

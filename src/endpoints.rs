//! `endpoints.json`: the machine-readable address book of a running sandbox, written into the data directory once
//! every listener accepts connections. Scenarios (`--target DIR/endpoints.json`), scripts and tests read it instead
//! of guessing ports. It holds the admin token and the gateway's sandbox client secret, so it is written with mode
//! 0600.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "endpoints.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Format version of this file.
    pub version: u32,
    /// PEM file of the bankgate development CA: trust it to talk to any listener.
    pub ca_cert: PathBuf,
    /// Bearer token of every bank's admin API.
    pub admin_token: String,
    /// Client certificate and key the gateway presents to banks (and tests may present too).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The consent gateway (absent when only banks run).
    pub gateway: Option<GatewayEndpoints>,
    pub banks: Vec<BankEndpoints>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayEndpoints {
    /// The gateway's OAuth issuer identifier; every endpoint lives under it.
    pub issuer: String,
    /// RFC 8414 authorization server metadata.
    pub metadata: String,
    /// The sandbox client `bankgate up` declares (`client_secret_basic`), for the tour and the consent shortcut
    /// `POST {issuer}/sandbox/consents`. Absent in files written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_client_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankEndpoints {
    pub id: String,
    pub display_name: String,
    /// FDX API base (`{api}/fdx/v6/accounts`) and OAuth token endpoint (`{api}/oauth/token`); mutual TLS.
    pub api: String,
    /// The bank's OAuth issuer and login pages (`{login}/oauth/authorize`).
    pub login: String,
    /// Admin API (`{admin}/admin/...`).
    pub admin: String,
}

impl Endpoints {
    /// Write `dir/endpoints.json` atomically (temporary file, then rename) with owner-only permissions.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let path = dir.join(FILE_NAME);
        let tmp = dir.join(format!(".{FILE_NAME}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_private(&tmp, &json)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    pub fn read(path: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }

    pub fn bank(&self, id: &str) -> Option<&BankEndpoints> {
        self.banks.iter().find(|b| b.id == id)
    }
}

/// Write a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

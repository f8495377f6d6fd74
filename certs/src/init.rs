//! `init_dir`: what `bankgate dev init` does to a PKI directory, and the summary it prints.
//!
//! Ensures the CA and the named server and client certificates exist and are usable, reusing what is valid and
//! re-issuing what is missing, expiring, or from another CA, all under one directory lock. It must never print key
//! material: the report names key files, not their contents.

use std::fmt;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::files::{self, DirLock};
use crate::pki::{self, Outcome};
use crate::{CertError, CertKind, Pki};

/// What `init_dir` found and did, for the CLI to print (its `Display` is that printout).
#[derive(Clone, Debug)]
pub struct InitReport {
    /// The PKI directory.
    pub dir: PathBuf,
    /// The CA.
    pub ca: InitEntry,
    /// One entry per server name, in the order given.
    pub servers: Vec<InitEntry>,
    /// One entry per client name, in the order given.
    pub clients: Vec<InitEntry>,
}

/// One certificate in the directory.
#[derive(Clone, Debug)]
pub struct InitEntry {
    /// The name (file stem; also the subject CN for leaves). `ca` for the CA.
    pub name: String,
    /// `None` for the CA.
    pub kind: Option<CertKind>,
    /// Certificate file.
    pub cert_path: PathBuf,
    /// Private-key file (mode 0600).
    pub key_path: PathBuf,
    /// Subject DN, RFC 4514 text.
    pub subject: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// SHA-256 of the DER certificate (RFC 8705 `x5t#S256` is its base64url).
    pub sha256_thumbprint: [u8; 32],
    /// Whether the files were reused or (re)written.
    pub action: InitAction,
}

/// What happened to one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitAction {
    /// The files on disk were valid and kept.
    Reused,
    /// New files were written; `reason` says why (missing, expiring, issued by another CA, ...).
    Issued {
        /// Human-readable reason.
        reason: String,
    },
}

impl InitAction {
    fn from_outcome(outcome: Outcome) -> InitAction {
        match outcome {
            None => InitAction::Reused,
            Some(renewal) => InitAction::Issued { reason: renewal.to_string() },
        }
    }
}

/// What `dev init` writes: ensure CA + the server identities + client identities in `dir`, returning a summary
/// (paths, subjects, expiry) the CLI prints. Reuses valid files, re-issues expired or missing ones.
///
/// Names are file stems (`[A-Za-z0-9._-]`, not `ca`) and must be unique across both lists. Blocking file I/O.
pub fn init_dir(dir: &Path, servers: &[&str], clients: &[&str]) -> Result<InitReport, CertError> {
    let mut seen = std::collections::HashSet::new();
    for name in servers.iter().chain(clients) {
        pki::validate_file_stem(name)?;
        if !seen.insert(*name) {
            return Err(CertError::InvalidName {
                name: (*name).to_owned(),
                reason: "appears twice (server and client certificates share one directory)",
            });
        }
    }
    files::ensure_dir(dir)?;
    let _lock = DirLock::acquire(dir)?;
    let now = OffsetDateTime::now_utc();
    let (pki, outcome) = Pki::load_or_create_locked(dir, now)?;
    let (ca_cert, ca_key) = pki::ca_paths(dir);
    let ca = InitEntry {
        name: "ca".to_owned(),
        kind: None,
        cert_path: ca_cert,
        key_path: ca_key,
        subject: pki.ca_subject().to_owned(),
        not_after: pki.ca_not_after(),
        sha256_thumbprint: crate::identity::sha256(&pki.ca_der()),
        action: InitAction::from_outcome(outcome),
    };
    let leaf = |name: &str, kind| -> Result<InitEntry, CertError> {
        let (identity, outcome) = pki.load_or_issue_locked(dir, name, kind, now)?;
        let (cert_path, key_path) = pki::leaf_paths(dir, name);
        Ok(InitEntry {
            name: name.to_owned(),
            kind: Some(kind),
            cert_path,
            key_path,
            subject: identity.subject().to_owned(),
            not_after: identity.not_after(),
            sha256_thumbprint: identity.sha256_thumbprint(),
            action: InitAction::from_outcome(outcome),
        })
    };
    let servers = servers.iter().map(|name| leaf(name, CertKind::Server)).collect::<Result<Vec<_>, _>>()?;
    let clients = clients.iter().map(|name| leaf(name, CertKind::Client)).collect::<Result<Vec<_>, _>>()?;
    Ok(InitReport { dir: dir.to_owned(), ca, servers, clients })
}

impl fmt::Display for InitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "development PKI in {}", self.dir.display())?;
        for entry in std::iter::once(&self.ca).chain(&self.servers).chain(&self.clients) {
            writeln!(f, "{entry}")?;
        }
        Ok(())
    }
}

impl fmt::Display for InitEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.map_or_else(|| "ca".to_owned(), |k| k.to_string());
        let action = match &self.action {
            InitAction::Reused => "reused".to_owned(),
            InitAction::Issued { reason } => format!("issued ({reason})"),
        };
        write!(
            f,
            "  {kind:<6} {name:<20} {action}\n         subject {subject}; expires {expires}\n         cert {cert}\n         key  {key}",
            name = self.name,
            subject = self.subject,
            expires = self.not_after.date(),
            cert = self.cert_path.display(),
            key = self.key_path.display(),
        )
    }
}

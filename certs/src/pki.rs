//! The development certificate authority: creates, loads, checks and reuses the CA and the leaf certificates it
//! issues (rcgen for issuing, x509-parser for checking what is found on disk).
//!
//! Certificate validity follows the wall clock, because TLS peers check it against the wall clock; the simulated
//! bank clock has no say here. Every key is ECDSA P-256. This module must never write a key file readable by others,
//! never reuse a file it has not verified (issuer signature, key match, key usage, name, remaining validity), and
//! never print a private key.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};

use crate::files::{self, CERT_FILE_MODE, DirLock, KEY_FILE_MODE};
use crate::identity::{self, CertFacts};
use crate::{CertError, CertKind, Identity};

/// Lifetime of a new CA.
pub const CA_VALIDITY: Duration = Duration::days(3650);
/// Lifetime of a new server or client certificate (~1 year).
pub const LEAF_VALIDITY: Duration = Duration::days(365);
/// A certificate found on disk is reused only if it stays valid at least this long.
pub const MIN_REMAINING_VALIDITY: Duration = Duration::days(30);
/// New certificates start this far in the past, so a peer whose clock lags a little still accepts them.
const BACKDATE: Duration = Duration::hours(1);
/// A certificate on disk whose validity starts later than this from now is treated as broken.
const FUTURE_TOLERANCE: Duration = Duration::minutes(5);
/// Organisation in every subject we issue.
const ORGANISATION: &str = "bankgate development";
/// RFC 5280 Appendix A, ub-common-name: a CN is at most 64 characters.
const MAX_NAME_LEN: usize = 64;
/// File names of the CA inside a PKI directory.
const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";

/// The development CA: root certificate + key, able to issue more.
pub struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    ca_facts: CertFacts,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("subject", &self.ca_facts.subject)
            .field("not_after", &self.ca_facts.not_after)
            .field("key", &"<hidden>")
            .finish()
    }
}

/// Why a file on disk was not reused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Renewal {
    Missing,
    Unreadable(String),
    Expiring(OffsetDateTime),
    NotYetValid(OffsetDateTime),
    OtherIssuer,
    WrongUsage,
    WrongName,
}

impl fmt::Display for Renewal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Renewal::Missing => f.write_str("missing"),
            Renewal::Unreadable(why) => write!(f, "unreadable: {why}"),
            Renewal::Expiring(at) => write!(f, "expires {} (less than 30 days left)", at.date()),
            Renewal::NotYetValid(at) => write!(f, "not valid before {}", at.date()),
            Renewal::OtherIssuer => f.write_str("issued by another CA"),
            Renewal::WrongUsage => f.write_str("wrong key usage"),
            Renewal::WrongName => f.write_str("issued for another name"),
        }
    }
}

/// What loading did: reused the file, or wrote a new one and why.
pub(crate) type Outcome = Option<Renewal>;

impl Pki {
    /// A new CA in memory (for tests).
    pub fn generate() -> Result<Pki, CertError> {
        Self::generate_at(OffsetDateTime::now_utc())
    }

    /// Rebuilds a CA from its certificate and PKCS#8 key PEM, checking that they belong together and that the
    /// certificate is a self-signed CA. Does not look at the validity period.
    pub fn from_pem(ca_pem: &str, ca_key_pem: &str) -> Result<Pki, CertError> {
        let ca_der =
            CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| CertError::parse("CA certificate PEM", e))?;
        let facts = CertFacts::parse(&ca_der)?;
        if !facts.is_ca {
            return Err(CertError::parse("CA certificate", "basicConstraints does not say CA:TRUE"));
        }
        if facts.issuer_raw != facts.subject_raw || !identity::signed_by(&ca_der, &facts.spki) {
            return Err(CertError::parse("CA certificate", "it is not self-signed"));
        }
        let key = KeyPair::from_pem(ca_key_pem)?;
        if rcgen::PublicKeyData::subject_public_key_info(&key) != facts.spki {
            return Err(CertError::parse("CA private key", "it does not belong to the CA certificate"));
        }
        let issuer = Issuer::from_ca_cert_der(&ca_der, key)?;
        Ok(Pki { ca_pem: ca_pem.to_owned(), ca_der, ca_facts: facts, issuer })
    }

    /// Load `dir/ca.pem` + `dir/ca-key.pem` if present and valid for at least 30 more days, else create them
    /// (creating `dir`). Files are written atomically (temp file + rename), key files with mode 0600.
    ///
    /// Blocking file I/O: from async code call it before starting the runtime or inside `spawn_blocking`.
    pub fn load_or_create(dir: &Path) -> Result<Pki, CertError> {
        files::ensure_dir(dir)?;
        let _lock = DirLock::acquire(dir)?;
        Ok(Self::load_or_create_locked(dir, OffsetDateTime::now_utc())?.0)
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate, DER (the trust anchor to give to clients and to the client-certificate verifier).
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca_der.clone()
    }

    /// The CA subject, RFC 4514 text.
    pub fn ca_subject(&self) -> &str {
        &self.ca_facts.subject
    }

    /// End of the CA's validity period.
    pub fn ca_not_after(&self) -> OffsetDateTime {
        self.ca_facts.not_after
    }

    /// A fresh server certificate for `name` with SANs localhost, 127.0.0.1, ::1 (plus `name` as DNS if it's a valid
    /// DNS name, or as IP if it is an address), EKU serverAuth, ECDSA P-256, valid ~1 year.
    pub fn issue_server(&self, name: &str) -> Result<Identity, CertError> {
        self.issue_at(name, CertKind::Server, OffsetDateTime::now_utc())
    }

    /// A fresh client certificate whose subject CN is `name`, with a URI SAN `urn:bankgate:client:<name>`
    /// (percent-encoded) and, when `name` is a valid DNS name, a DNS SAN `name` — the values RFC 8705 §2.1.2
    /// `tls_client_auth_san_uri` / `tls_client_auth_san_dns` match on. EKU clientAuth.
    pub fn issue_client(&self, name: &str) -> Result<Identity, CertError> {
        self.issue_at(name, CertKind::Client, OffsetDateTime::now_utc())
    }

    /// Load `dir/<file_stem>.pem` + `dir/<file_stem>-key.pem` if issued by this CA for `file_stem` with the right
    /// key usage and valid for >= 30 days; otherwise issue (with `file_stem` as the name) and write them.
    ///
    /// Blocking file I/O, like [`Pki::load_or_create`].
    pub fn load_or_issue(&self, dir: &Path, file_stem: &str, kind: CertKind) -> Result<Identity, CertError> {
        validate_file_stem(file_stem)?;
        files::ensure_dir(dir)?;
        let _lock = DirLock::acquire(dir)?;
        Ok(self.load_or_issue_locked(dir, file_stem, kind, OffsetDateTime::now_utc())?.0)
    }

    pub(crate) fn generate_at(now: OffsetDateTime) -> Result<Pki, CertError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        // A short fingerprint in the CN tells one developer CA from another at a glance.
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let tag: String = identity::sha256(&spki)[..3].iter().map(|b| format!("{b:02x}")).collect();
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(&format!("bankgate development CA {tag}"));
        // RFC 5280 §4.2.1.9: a CA that signs only end-entity certificates (pathLenConstraint 0).
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        // RFC 5280 §4.2.1.3: keyCertSign for a CA.
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_VALIDITY;
        let cert = params.self_signed(&key)?;
        let ca_pem = cert.pem();
        let ca_der = cert.der().clone();
        let ca_facts = CertFacts::parse(&ca_der)?;
        Ok(Pki { ca_pem, ca_der, ca_facts, issuer: Issuer::new(params, key) })
    }

    /// The CA key, PEM (only for writing `ca-key.pem`).
    fn ca_key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    pub(crate) fn issue_at(&self, name: &str, kind: CertKind, now: OffsetDateTime) -> Result<Identity, CertError> {
        validate_name(name)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(name);
        params.subject_alt_names = match kind {
            CertKind::Server => server_sans(name)?,
            CertKind::Client => client_sans(name)?,
        };
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // RFC 5280 §4.2.1.12: serverAuth / clientAuth, the EKUs webpki checks for each side.
        params.extended_key_usages = vec![match kind {
            CertKind::Server => ExtendedKeyUsagePurpose::ServerAuth,
            CertKind::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - BACKDATE;
        params.not_after = now + LEAF_VALIDITY;
        let cert = params.signed_by(&key, &self.issuer)?;
        Identity::from_pem(cert.pem(), key.serialize_pem())
    }

    /// [`Pki::load_or_create`] with the directory lock already held.
    pub(crate) fn load_or_create_locked(dir: &Path, now: OffsetDateTime) -> Result<(Pki, Outcome), CertError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let renewal = match (files::read_optional(&cert_path)?, files::read_optional(&key_path)?) {
            (Some(cert), Some(key)) => match Pki::from_pem(&cert, &key) {
                Ok(pki) => match check_validity(&pki.ca_facts, now) {
                    None => {
                        files::tighten_key_mode(&key_path)?;
                        return Ok((pki, None));
                    }
                    Some(renewal) => renewal,
                },
                Err(e) => Renewal::Unreadable(e.to_string()),
            },
            _ => Renewal::Missing,
        };
        let pki = Pki::generate_at(now)?;
        if renewal != Renewal::Missing {
            tracing::warn!(path = %cert_path.display(), reason = %renewal, "replacing the development CA; certificates it issued will be re-issued");
        }
        // Key first: a crash between the two renames leaves a pair that fails the key check and is replaced.
        files::write_atomic(&key_path, pki.ca_key_pem().as_bytes(), KEY_FILE_MODE)?;
        files::write_atomic(&cert_path, pki.ca_pem.as_bytes(), CERT_FILE_MODE)?;
        tracing::info!(path = %cert_path.display(), subject = %pki.ca_facts.subject, "created development CA");
        Ok((pki, Some(renewal)))
    }

    /// [`Pki::load_or_issue`] with the directory lock already held and `file_stem` validated.
    pub(crate) fn load_or_issue_locked(
        &self,
        dir: &Path,
        file_stem: &str,
        kind: CertKind,
        now: OffsetDateTime,
    ) -> Result<(Identity, Outcome), CertError> {
        let (cert_path, key_path) = leaf_paths(dir, file_stem);
        let renewal = match (files::read_optional(&cert_path)?, files::read_optional(&key_path)?) {
            (Some(cert), Some(key)) => match Identity::from_pem(cert, key) {
                Ok(identity) => match self.check_leaf(&identity, file_stem, kind, now) {
                    None => {
                        files::tighten_key_mode(&key_path)?;
                        return Ok((identity, None));
                    }
                    Some(renewal) => renewal,
                },
                Err(e) => Renewal::Unreadable(e.to_string()),
            },
            _ => Renewal::Missing,
        };
        let identity = self.issue_at(file_stem, kind, now)?;
        files::write_atomic(&key_path, identity.key_pem.as_bytes(), KEY_FILE_MODE)?;
        files::write_atomic(&cert_path, identity.cert_pem.as_bytes(), CERT_FILE_MODE)?;
        tracing::info!(path = %cert_path.display(), %kind, reason = %renewal, "issued development certificate");
        Ok((identity, Some(renewal)))
    }

    /// Why `identity` must not be reused as the `kind` certificate named `name` of this CA (None: it may).
    fn check_leaf(&self, identity: &Identity, name: &str, kind: CertKind, now: OffsetDateTime) -> Option<Renewal> {
        let facts = identity.facts();
        // RFC 5280 §6.1.3 (a)(1),(4): signed by the CA's key and naming the CA as issuer.
        if facts.issuer_raw != self.ca_facts.subject_raw
            || !identity::signed_by(&identity.cert_der(), &self.ca_facts.spki)
        {
            return Some(Renewal::OtherIssuer);
        }
        if !facts.fits(kind) {
            return Some(Renewal::WrongUsage);
        }
        if facts.common_name.as_deref() != Some(name) {
            return Some(Renewal::WrongName);
        }
        check_validity(facts, now)
    }
}

/// Paths of the certificate and key files for `file_stem` in `dir`.
pub(crate) fn leaf_paths(dir: &Path, file_stem: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("{file_stem}.pem")), dir.join(format!("{file_stem}-key.pem")))
}

/// Paths of the CA certificate and key files in `dir`.
pub(crate) fn ca_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE))
}

/// None when the certificate is valid now and stays valid at least [`MIN_REMAINING_VALIDITY`].
fn check_validity(facts: &CertFacts, now: OffsetDateTime) -> Option<Renewal> {
    if facts.not_before > now + FUTURE_TOLERANCE {
        return Some(Renewal::NotYetValid(facts.not_before));
    }
    if facts.not_after < now + MIN_REMAINING_VALIDITY {
        return Some(Renewal::Expiring(facts.not_after));
    }
    None
}

/// `CN=<cn>, O=bankgate development`.
fn subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, ORGANISATION);
    dn
}

/// localhost, 127.0.0.1, ::1, plus `name` as an IP or DNS SAN when it is one (RFC 5280 §4.2.1.6).
fn server_sans(name: &str) -> Result<Vec<SanType>, CertError> {
    let mut sans = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(IpAddr::from([127, 0, 0, 1])),
        SanType::IpAddress(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])),
    ];
    let extra = match name.parse::<IpAddr>() {
        Ok(ip) => Some(SanType::IpAddress(ip)),
        Err(_) if is_dns_name(name) => Some(SanType::DnsName(name.to_ascii_lowercase().try_into()?)),
        Err(_) => None,
    };
    if let Some(extra) = extra
        && !sans.contains(&extra)
    {
        sans.push(extra);
    }
    Ok(sans)
}

/// `urn:bankgate:client:<name>` (RFC 8141 URN, name percent-encoded per RFC 3986 §2.1) and `name` as DNS if it is one.
fn client_sans(name: &str) -> Result<Vec<SanType>, CertError> {
    let mut sans = vec![SanType::URI(client_uri(name).try_into()?)];
    if is_dns_name(name) {
        sans.push(SanType::DnsName(name.to_ascii_lowercase().try_into()?));
    }
    Ok(sans)
}

/// The URI SAN a client certificate for `name` carries.
pub fn client_uri(name: &str) -> String {
    let mut uri = String::from("urn:bankgate:client:");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// A syntactically valid DNS name that is not an IP address (rustls-pki-types' rules).
fn is_dns_name(name: &str) -> bool {
    name.parse::<IpAddr>().is_err() && rustls_pki_types::DnsName::try_from(name).is_ok()
}

/// A certificate name: 1-64 characters (RFC 5280 ub-common-name), no control characters.
fn validate_name(name: &str) -> Result<(), CertError> {
    let invalid = |reason| Err(CertError::InvalidName { name: name.to_owned(), reason });
    if name.trim().is_empty() {
        return invalid("empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return invalid("longer than 64 characters (RFC 5280 ub-common-name)");
    }
    if name.chars().any(char::is_control) {
        return invalid("contains control characters");
    }
    Ok(())
}

/// A file stem: also a certificate name, restricted to `[A-Za-z0-9._-]`, not starting with `.`, and not `ca`.
pub(crate) fn validate_file_stem(stem: &str) -> Result<(), CertError> {
    validate_name(stem)?;
    let invalid = |reason| Err(CertError::InvalidName { name: stem.to_owned(), reason });
    if !stem.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return invalid("file names may only use letters, digits, '.', '_' and '-'");
    }
    if stem.starts_with('.') {
        return invalid("file names may not start with '.'");
    }
    if stem == "ca" {
        return invalid("'ca' is reserved for the CA's own files");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn pki_and_identity_are_shareable_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Pki>();
        assert_send_sync::<Identity>();
    }

    /// (DNS names, IP addresses, URIs) of a certificate's subjectAltName.
    fn sans(der: &[u8]) -> (Vec<String>, Vec<IpAddr>, Vec<String>) {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        let ext = cert.subject_alternative_name().unwrap().expect("certificate has a SAN extension");
        let (mut dns, mut ips, mut uris) = (Vec::new(), Vec::new(), Vec::new());
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::URI(u) => uris.push(u.to_string()),
                GeneralName::IPAddress(raw) => match raw.len() {
                    4 => ips.push(IpAddr::from(<[u8; 4]>::try_from(*raw).unwrap())),
                    16 => ips.push(IpAddr::from(<[u8; 16]>::try_from(*raw).unwrap())),
                    n => panic!("IP SAN of {n} bytes"),
                },
                other => panic!("unexpected SAN {other:?}"),
            }
        }
        (dns, ips, uris)
    }

    #[test]
    fn server_certificate_has_the_loopback_names_and_server_usage() {
        let pki = Pki::generate().unwrap();
        let id = pki.issue_server("bank-north").unwrap();
        let (dns, ips, uris) = sans(&id.cert_der());
        assert_eq!(dns, ["localhost", "bank-north"]);
        assert_eq!(ips, ["127.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]);
        assert!(uris.is_empty());
        let der = id.cert_der();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert_eq!(id.common_name(), Some("bank-north"));
        let days = (id.not_after() - now()).whole_days();
        assert!((364..=366).contains(&days), "server certificate valid ~1 year, got {days} days");
        assert_eq!(cert.public_key().algorithm.algorithm.to_id_string(), "1.2.840.10045.2.1", "EC key");
    }

    #[test]
    fn server_names_that_are_not_dns_names_only_get_loopback_sans() {
        let pki = Pki::generate().unwrap();
        let (dns, ips, _) = sans(&pki.issue_server("My Bank").unwrap().cert_der());
        assert_eq!((dns.len(), ips.len()), (1, 2));
        let (dns, ips, _) = sans(&pki.issue_server("10.1.2.3").unwrap().cert_der());
        assert_eq!(dns, ["localhost"]);
        assert!(ips.contains(&"10.1.2.3".parse::<IpAddr>().unwrap()));
        let (dns, _, _) = sans(&pki.issue_server("localhost").unwrap().cert_der());
        assert_eq!(dns, ["localhost"], "no duplicate SAN");
    }

    #[test]
    fn client_certificate_carries_its_name_in_cn_and_uri_san() {
        let pki = Pki::generate().unwrap();
        let id = pki.issue_client("chat app/1").unwrap();
        assert_eq!(id.common_name(), Some("chat app/1"));
        let (dns, _, uris) = sans(&id.cert_der());
        assert_eq!(uris, ["urn:bankgate:client:chat%20app%2F1"]);
        assert!(dns.is_empty(), "not a DNS name");
        let (dns, _, uris) = sans(&pki.issue_client("tpp-chat").unwrap().cert_der());
        assert_eq!((dns, uris), (vec!["tpp-chat".to_owned()], vec![client_uri("tpp-chat")]));
        let der = id.cert_der();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
    }

    #[test]
    fn bad_names_are_refused_before_anything_is_signed() {
        let pki = Pki::generate().unwrap();
        assert!(matches!(pki.issue_server(""), Err(CertError::InvalidName { .. })));
        assert!(matches!(pki.issue_client(&"x".repeat(65)), Err(CertError::InvalidName { .. })));
        assert!(matches!(pki.issue_client("a\nb"), Err(CertError::InvalidName { .. })));
        for stem in ["../etc", "ca", ".hidden", "a b"] {
            assert!(validate_file_stem(stem).is_err(), "{stem} must be refused");
        }
        assert!(validate_file_stem("tpp-chat_1.dev").is_ok());
    }

    #[test]
    fn ca_round_trips_through_pem_and_keeps_issuing() {
        let pki = Pki::generate().unwrap();
        let again = Pki::from_pem(pki.ca_pem(), &pki.ca_key_pem()).unwrap();
        assert_eq!(again.ca_der(), pki.ca_der());
        let leaf = again.issue_client("x").unwrap();
        assert!(pki.check_leaf(&leaf, "x", CertKind::Client, now()).is_none(), "leaf of the reloaded CA is ours");
    }

    #[test]
    fn leaf_checks_name_the_reason() {
        let pki = Pki::generate().unwrap();
        let other = Pki::generate().unwrap();
        let leaf = pki.issue_server("gw").unwrap();
        assert_eq!(pki.check_leaf(&leaf, "gw", CertKind::Server, now()), None);
        assert_eq!(other.check_leaf(&leaf, "gw", CertKind::Server, now()), Some(Renewal::OtherIssuer));
        assert_eq!(pki.check_leaf(&leaf, "gw", CertKind::Client, now()), Some(Renewal::WrongUsage));
        assert_eq!(pki.check_leaf(&leaf, "other", CertKind::Server, now()), Some(Renewal::WrongName));
        let late = now() + Duration::days(340);
        assert!(matches!(pki.check_leaf(&leaf, "gw", CertKind::Server, late), Some(Renewal::Expiring(_))));
    }

    #[test]
    fn a_leaf_close_to_expiry_is_reissued_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (pki, _) = Pki::load_or_create_locked(dir.path(), now()).unwrap();
        let (first, outcome) = pki.load_or_issue_locked(dir.path(), "gw", CertKind::Server, now()).unwrap();
        assert_eq!(outcome, Some(Renewal::Missing));
        let (same, outcome) = pki.load_or_issue_locked(dir.path(), "gw", CertKind::Server, now()).unwrap();
        assert_eq!((same.cert_pem.as_str(), outcome), (first.cert_pem.as_str(), None));
        // 340 days later fewer than 30 days are left: the file is replaced.
        let late = now() + Duration::days(340);
        let (renewed, outcome) = pki.load_or_issue_locked(dir.path(), "gw", CertKind::Server, late).unwrap();
        assert!(matches!(outcome, Some(Renewal::Expiring(_))));
        assert_ne!(renewed.cert_pem, first.cert_pem);
        let on_disk = std::fs::read_to_string(dir.path().join("gw.pem")).unwrap();
        assert_eq!(on_disk, renewed.cert_pem);
    }

    #[test]
    fn a_ca_close_to_expiry_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (first, _) = Pki::load_or_create_locked(dir.path(), now()).unwrap();
        let late = now() + CA_VALIDITY - Duration::days(10);
        let (second, outcome) = Pki::load_or_create_locked(dir.path(), late).unwrap();
        assert!(matches!(outcome, Some(Renewal::Expiring(_))));
        assert_ne!(first.ca_pem(), second.ca_pem());
    }

    #[test]
    fn a_key_that_does_not_match_its_certificate_is_refused() {
        let pki = Pki::generate().unwrap();
        let a = pki.issue_client("a").unwrap();
        let b = pki.issue_client("b").unwrap();
        assert!(matches!(Identity::from_pem(a.cert_pem.clone(), b.key_pem.clone()), Err(CertError::Parse { .. })));
        assert!(Pki::from_pem(pki.ca_pem(), &a.key_pem).is_err());
        assert!(Pki::from_pem(&a.cert_pem, &a.key_pem).is_err(), "a leaf is not a CA");
    }

    #[test]
    fn debug_output_hides_keys() {
        let pki = Pki::generate().unwrap();
        let id = pki.issue_client("dbg").unwrap();
        for text in [format!("{pki:?}"), format!("{id:?}")] {
            assert!(text.contains("<hidden>"), "{text}");
            assert!(!text.contains("PRIVATE KEY") && !text.contains(&id.key_pem), "{text}");
        }
    }
}

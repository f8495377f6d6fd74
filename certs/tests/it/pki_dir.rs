//! The PKI directory on disk: what `bankgate dev init` and every start rely on. Reuse of valid files, re-issue of
//! missing, expired or foreign ones, private key permissions, and the init summary.

use std::path::Path;

use certs::{CertKind, InitAction, Pki};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

use crate::support::trusted_by;

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[cfg(unix)]
fn mode(path: impl AsRef<Path>) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Writes `dir/<stem>.pem` + key: a server certificate signed by the CA in `dir`, valid until `not_after`.
fn write_leaf_with_validity(dir: &Path, stem: &str, not_after: OffsetDateTime) {
    let ca_key = KeyPair::from_pem(&read(dir.join("ca-key.pem"))).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&read(dir.join("ca.pem")), ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, stem);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = not_after - Duration::days(365);
    params.not_after = not_after;
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join(format!("{stem}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{stem}-key.pem")), key.serialize_pem()).unwrap();
}

#[test]
fn load_or_create_twice_reuses_the_same_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/pki");
    let first = Pki::load_or_create(&dir).unwrap();
    let second = Pki::load_or_create(&dir).unwrap();
    assert_eq!(first.ca_pem(), second.ca_pem());
    assert_eq!(read(dir.join("ca.pem")), first.ca_pem());
    // A leaf issued by the reloaded CA is trusted by whoever trusts the first one.
    assert!(trusted_by(&first, &second.issue_server("gw").unwrap(), CertKind::Server));
}

#[cfg(unix)]
#[test]
fn key_files_are_private_and_certificates_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(tmp.path()).unwrap();
    pki.load_or_issue(tmp.path(), "gateway", CertKind::Server).unwrap();
    pki.load_or_issue(tmp.path(), "tpp-chat", CertKind::Client).unwrap();
    for key in ["ca-key.pem", "gateway-key.pem", "tpp-chat-key.pem"] {
        assert_eq!(mode(tmp.path().join(key)), 0o600, "{key}");
    }
    for cert in ["ca.pem", "gateway.pem", "tpp-chat.pem"] {
        assert_eq!(mode(tmp.path().join(cert)), 0o644, "{cert}");
    }
    // A key someone loosened is tightened again on the next load.
    std::fs::set_permissions(tmp.path().join("gateway-key.pem"), std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .unwrap();
    pki.load_or_issue(tmp.path(), "gateway", CertKind::Server).unwrap();
    assert_eq!(mode(tmp.path().join("gateway-key.pem")), 0o600);
}

#[test]
fn a_valid_leaf_is_reused_and_a_missing_one_reissued() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(tmp.path()).unwrap();
    let first = pki.load_or_issue(tmp.path(), "gateway", CertKind::Server).unwrap();
    let again = pki.load_or_issue(tmp.path(), "gateway", CertKind::Server).unwrap();
    assert_eq!(first.cert_pem, again.cert_pem);
    assert_eq!(first.sha256_thumbprint(), again.sha256_thumbprint());

    std::fs::remove_file(tmp.path().join("gateway-key.pem")).unwrap();
    let reissued = pki.load_or_issue(tmp.path(), "gateway", CertKind::Server).unwrap();
    assert_ne!(reissued.cert_pem, first.cert_pem);
    assert_eq!(read(tmp.path().join("gateway-key.pem")), reissued.key_pem);
    assert!(trusted_by(&pki, &reissued, CertKind::Server));
}

#[test]
fn an_expired_leaf_is_reissued() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(tmp.path()).unwrap();
    let yesterday = OffsetDateTime::now_utc() - Duration::days(1);
    write_leaf_with_validity(tmp.path(), "bank-north", yesterday);
    let expired = read(tmp.path().join("bank-north.pem"));

    let identity = pki.load_or_issue(tmp.path(), "bank-north", CertKind::Server).unwrap();
    assert_ne!(identity.cert_pem, expired);
    assert!(identity.not_after() > OffsetDateTime::now_utc() + Duration::days(300));
    assert_eq!(read(tmp.path().join("bank-north.pem")), identity.cert_pem, "the renewed file is on disk");
    assert!(trusted_by(&pki, &identity, CertKind::Server));
}

#[test]
fn a_leaf_with_less_than_30_days_left_is_reissued_but_one_with_more_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(tmp.path()).unwrap();
    write_leaf_with_validity(tmp.path(), "soon", OffsetDateTime::now_utc() + Duration::days(20));
    write_leaf_with_validity(tmp.path(), "later", OffsetDateTime::now_utc() + Duration::days(60));
    let soon = read(tmp.path().join("soon.pem"));
    let later = read(tmp.path().join("later.pem"));
    assert_ne!(pki.load_or_issue(tmp.path(), "soon", CertKind::Server).unwrap().cert_pem, soon);
    assert_eq!(pki.load_or_issue(tmp.path(), "later", CertKind::Server).unwrap().cert_pem, later);
}

#[test]
fn a_leaf_from_another_ca_is_reissued() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(tmp.path()).unwrap();
    let foreign = Pki::generate().unwrap().issue_client("tpp-chat").unwrap();
    std::fs::write(tmp.path().join("tpp-chat.pem"), &foreign.cert_pem).unwrap();
    std::fs::write(tmp.path().join("tpp-chat-key.pem"), &foreign.key_pem).unwrap();

    let identity = pki.load_or_issue(tmp.path(), "tpp-chat", CertKind::Client).unwrap();
    assert_ne!(identity.cert_pem, foreign.cert_pem);
    assert!(!trusted_by(&pki, &foreign, CertKind::Client));
    assert!(trusted_by(&pki, &identity, CertKind::Client));
}

#[test]
fn a_server_certificate_is_not_reused_as_a_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(tmp.path()).unwrap();
    let server = pki.load_or_issue(tmp.path(), "dual", CertKind::Server).unwrap();
    let client = pki.load_or_issue(tmp.path(), "dual", CertKind::Client).unwrap();
    assert_ne!(server.cert_pem, client.cert_pem);
    assert!(trusted_by(&pki, &client, CertKind::Client));
}

#[test]
fn a_corrupt_ca_is_replaced_and_its_leaves_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let old = Pki::load_or_create(tmp.path()).unwrap();
    let old_leaf = old.load_or_issue(tmp.path(), "gateway", CertKind::Server).unwrap();
    std::fs::write(tmp.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();

    let new = Pki::load_or_create(tmp.path()).unwrap();
    assert_ne!(new.ca_pem(), old.ca_pem());
    let new_leaf = new.load_or_issue(tmp.path(), "gateway", CertKind::Server).unwrap();
    assert_ne!(new_leaf.cert_pem, old_leaf.cert_pem);
    assert!(trusted_by(&new, &new_leaf, CertKind::Server));
}

#[test]
fn concurrent_first_starts_agree_on_one_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let pems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..4).map(|_| scope.spawn(|| Pki::load_or_create(&dir).unwrap().ca_pem().to_owned())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(pems.iter().all(|pem| pem == &pems[0]), "every process/thread must end up with the CA on disk");
    assert_eq!(read(dir.join("ca.pem")), pems[0]);
}

#[test]
fn unsafe_file_stems_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(tmp.path()).unwrap();
    for stem in ["../escape", "ca", "a/b", ""] {
        assert!(pki.load_or_issue(tmp.path(), stem, CertKind::Client).is_err(), "{stem:?}");
    }
    assert!(!tmp.path().parent().unwrap().join("escape.pem").exists());
}

#[test]
fn init_dir_creates_then_reuses_and_reports_what_it_did() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let first = certs::init_dir(&dir, &["gateway", "bank-north"], &["tpp-chat"]).unwrap();
    assert!(matches!(first.ca.action, InitAction::Issued { .. }));
    assert_eq!(first.servers.len(), 2);
    assert!(first.servers.iter().chain(&first.clients).all(|e| matches!(e.action, InitAction::Issued { .. })));
    assert_eq!(first.clients[0].kind, Some(CertKind::Client));
    assert_eq!(first.clients[0].cert_path, dir.join("tpp-chat.pem"));
    assert!(first.servers[1].subject.contains("CN=bank-north"), "{}", first.servers[1].subject);
    for entry in std::iter::once(&first.ca).chain(&first.servers).chain(&first.clients) {
        assert!(entry.cert_path.exists() && entry.key_path.exists(), "{entry:?}");
    }

    let second = certs::init_dir(&dir, &["gateway", "bank-north"], &["tpp-chat"]).unwrap();
    assert_eq!(second.ca.action, InitAction::Reused);
    assert!(second.servers.iter().chain(&second.clients).all(|e| e.action == InitAction::Reused));
    assert_eq!(second.servers[0].sha256_thumbprint, first.servers[0].sha256_thumbprint);

    let printed = second.to_string();
    assert!(printed.contains(&dir.display().to_string()), "{printed}");
    assert!(printed.contains("tpp-chat") && printed.contains("reused") && printed.contains("expires"), "{printed}");
    assert!(!printed.contains("PRIVATE KEY"), "the summary never contains key material");

    std::fs::remove_file(dir.join("bank-north.pem")).unwrap();
    let third = certs::init_dir(&dir, &["gateway", "bank-north"], &["tpp-chat"]).unwrap();
    assert_eq!(third.servers[0].action, InitAction::Reused);
    assert_eq!(third.servers[1].action, InitAction::Issued { reason: "missing".to_owned() });
}

#[test]
fn init_dir_refuses_a_name_used_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let err = certs::init_dir(tmp.path(), &["same"], &["same"]).unwrap_err();
    assert!(err.to_string().contains("same"), "{err}");
    assert!(!tmp.path().join("ca.pem").exists(), "nothing written when the request is invalid");
}

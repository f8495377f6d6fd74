//! Real HTTPS round trips: `serve_tls` on 127.0.0.1:0, reqwest 0.13 (rustls) trusting only our CA.
//! What a caller notices: who the handler thinks it is talking to, and which handshakes are refused.

use axum::Router;
use certs::{ClientAuth, Pki};
use reqwest::Version;

use crate::support::{TestServer, hex};

#[tokio::test]
async fn required_mode_hands_the_client_certificate_to_the_handler() {
    let server = TestServer::start(ClientAuth::Required, Router::new()).await;
    let client_id = server.pki.issue_client("tpp-chat").unwrap();
    let client = server.client(Some(&client_id)).build().unwrap();
    let body =
        client.get(server.url("/whoami")).send().await.unwrap().error_for_status().unwrap().text().await.unwrap();
    assert!(body.starts_with("cn=tpp-chat "), "{body}");
    assert!(body.contains(&format!("sha={}", hex(&client_id.sha256_thumbprint()))), "x5t#S256 input matches: {body}");
    assert!(body.contains("peer=127.0.0.1"), "ConnectInfo present: {body}");
}

#[tokio::test]
async fn required_mode_refuses_clients_without_a_certificate_and_keeps_serving() {
    let server = TestServer::start(ClientAuth::Required, Router::new()).await;
    let anonymous = server.client(None).build().unwrap();
    let refused = anonymous.get(server.url("/whoami")).send().await;
    assert!(refused.is_err(), "handshake without a client certificate must fail, got {refused:?}");

    // The failed handshake did not stop the accept loop.
    let client_id = server.pki.issue_client("after-failure").unwrap();
    let body = server.client(Some(&client_id)).build().unwrap().get(server.url("/whoami")).send().await.unwrap();
    assert_eq!(body.text().await.unwrap().split(' ').next(), Some("cn=after-failure"));
}

#[tokio::test]
async fn required_mode_refuses_certificates_from_another_ca() {
    let server = TestServer::start(ClientAuth::Required, Router::new()).await;
    let stranger = Pki::generate().unwrap().issue_client("tpp-chat").unwrap();
    let result = server.client(Some(&stranger)).build().unwrap().get(server.url("/whoami")).send().await;
    assert!(result.is_err(), "a certificate from another CA must be refused, got {result:?}");
}

#[tokio::test]
async fn optional_mode_serves_anonymous_clients_and_still_verifies_presented_certificates() {
    let server = TestServer::start(ClientAuth::Optional, Router::new()).await;
    let anonymous = server.client(None).build().unwrap();
    let body = anonymous.get(server.url("/whoami")).send().await.unwrap().text().await.unwrap();
    assert!(body.starts_with("cn=none sha=none "), "{body}");

    let known = server.pki.issue_client("budget-app").unwrap();
    let body = server.client(Some(&known)).build().unwrap().get(server.url("/whoami")).send().await.unwrap();
    assert!(body.text().await.unwrap().starts_with("cn=budget-app "));

    let stranger = Pki::generate().unwrap().issue_client("budget-app").unwrap();
    let result = server.client(Some(&stranger)).build().unwrap().get(server.url("/whoami")).send().await;
    assert!(result.is_err(), "a presented certificate from another CA is still refused, got {result:?}");
}

#[tokio::test]
async fn no_client_auth_mode_does_not_ask_for_certificates() {
    let server = TestServer::start(ClientAuth::None, Router::new()).await;
    let client_id = server.pki.issue_client("ignored").unwrap();
    let body = server.client(Some(&client_id)).build().unwrap().get(server.url("/whoami")).send().await.unwrap();
    assert!(body.text().await.unwrap().starts_with("cn=none "), "no certificate requested, none reported");
}

#[tokio::test]
async fn http2_is_negotiated_by_alpn_and_http1_still_works() {
    let server = TestServer::start(ClientAuth::Required, Router::new()).await;
    let client_id = server.pki.issue_client("h2-client").unwrap();

    let h2 = server.client(Some(&client_id)).build().unwrap();
    let response = h2.get(server.url("/whoami")).send().await.unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    let body = response.text().await.unwrap();
    assert!(body.starts_with("cn=h2-client ") && body.ends_with("version=HTTP/2.0"), "{body}");

    let h1 = server.client(Some(&client_id)).http1_only().build().unwrap();
    let response = h1.get(server.url("/whoami")).send().await.unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    let body = response.text().await.unwrap();
    assert!(body.starts_with("cn=h2-client ") && body.ends_with("version=HTTP/1.1"), "{body}");
}

#[tokio::test]
async fn our_client_config_speaks_mtls_to_our_server_config() {
    let server = TestServer::start(ClientAuth::Required, Router::new()).await;
    let client_id = server.pki.issue_client("gateway-to-bank").unwrap();
    let config = certs::client_config(&server.pki.ca_der(), Some(&client_id)).unwrap();
    let client = reqwest::Client::builder().tls_backend_preconfigured((*config).clone()).build().unwrap();
    let body = client.get(server.url("/whoami")).send().await.unwrap().text().await.unwrap();
    assert!(body.starts_with("cn=gateway-to-bank "), "{body}");

    // The same config does not trust a server of another CA.
    let other = Pki::generate().unwrap();
    let config = certs::client_config(&other.ca_der(), Some(&client_id)).unwrap();
    let client = reqwest::Client::builder().tls_backend_preconfigured((*config).clone()).build().unwrap();
    assert!(client.get(server.url("/whoami")).send().await.is_err(), "server of another CA must not be trusted");
}

#[tokio::test]
async fn a_stalled_handshake_does_not_block_other_clients() {
    let server = TestServer::start(ClientAuth::Optional, Router::new()).await;
    // A TCP connection that never says anything (it is held open until the end of the test).
    let _silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let body = server.client(None).build().unwrap().get(server.url("/whoami")).send().await.unwrap();
    assert_eq!(body.status(), reqwest::StatusCode::OK);
}

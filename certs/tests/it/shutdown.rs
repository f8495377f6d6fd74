//! Graceful shutdown of `serve_tls`: it returns once the shutdown future resolves, stops accepting, and lets an
//! in-flight request finish first.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use certs::ClientAuth;
use tokio::sync::{Notify, mpsc};

use crate::support::TestServer;

/// Upper bound for things that should happen promptly (generous for a loaded 2-core machine).
const PROMPTLY: Duration = Duration::from_secs(5);

#[tokio::test]
async fn serve_tls_returns_after_shutdown_and_stops_accepting() {
    let mut server = TestServer::start(ClientAuth::Optional, Router::new()).await;
    let client = server.client(None).build().unwrap();
    assert!(client.get(server.url("/whoami")).send().await.unwrap().status().is_success());

    server.shut_down();
    let returned = tokio::time::timeout(PROMPTLY, &mut server.task).await;
    assert!(matches!(returned, Ok(Ok(Ok(())))), "serve_tls should return Ok after shutdown: {returned:?}");

    let fresh = server.client(None).build().unwrap();
    assert!(fresh.get(server.url("/whoami")).send().await.is_err(), "no longer accepting connections");
}

#[tokio::test]
async fn an_in_flight_request_completes_during_shutdown() {
    let (entered_tx, mut entered_rx) = mpsc::channel::<()>(1);
    let release = Arc::new(Notify::new());
    let release_in_handler = release.clone();
    let slow = Router::new().route(
        "/slow",
        get(move || {
            let entered = entered_tx.clone();
            let release = release_in_handler.clone();
            async move {
                let _ = entered.send(()).await;
                release.notified().await;
                "finished"
            }
        }),
    );
    let mut server = TestServer::start(ClientAuth::Optional, slow).await;
    let client = server.client(None).build().unwrap();
    let request = tokio::spawn(client.get(server.url("/slow")).send());

    tokio::time::timeout(PROMPTLY, entered_rx.recv()).await.expect("handler started").expect("handler signalled");
    server.shut_down();
    // While the handler is held, the server keeps the connection open instead of returning.
    tokio::task::yield_now().await;
    assert!(!server.task.is_finished(), "serve_tls must wait for the in-flight request");

    release.notify_one();
    let response = tokio::time::timeout(PROMPTLY, request).await.expect("response in time").unwrap().unwrap();
    assert_eq!(response.text().await.unwrap(), "finished");
    let returned = tokio::time::timeout(PROMPTLY, &mut server.task).await;
    assert!(matches!(returned, Ok(Ok(Ok(())))), "serve_tls returns once the request is done: {returned:?}");
}

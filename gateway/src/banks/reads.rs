//! The resource API's reads from one bank: `GET`s over HTTP/1.1 on a pool of kept-alive mutual-TLS connections
//! (RFC 9112 §9.3 persistence, RFC 8705 §2 client certificate), each request driven by the task that asked for it.
//!
//! A connection is taken from the pool for one request at a time (newest idle first; one idle longer than the
//! bank's `pool_idle` is closed instead), or opened when none is idle (TCP, TLS with the gateway's certificate and
//! ALPN `http/1.1`, then hyper's HTTP/1.1 client handshake), and goes back to the pool once its response is read to
//! the end, unless it closed. hyper's connection future is not spawned as a task of its own: the asking task polls
//! it together with its request, so a read costs no hand-over between tasks (a request, its wake-ups and its answer
//! stay on one worker). Every request has the bank's whole `request` timeout (connection included; connecting alone
//! has `connect`). A request that fails on a connection taken from the pool before any answer came (the bank closed
//! it while it was idle) is sent once more on a new connection: a `GET` may be repeated (RFC 9110 §9.2.2).
//!
//! Decision, measured (`bench/resource-load.sh` setup, certificate-bound tokens, `GET /fdx/v6/accounts`): this
//! replaced reqwest for the resource API's reads; a profile showed the reqwest call path (its request builder, URL
//! parsing, redirect and timeout layers, hyper-util's pool) and the spawned connection task at about 14% of all CPU
//! outside the kernel. The OAuth and subscription calls keep reqwest ([`super::transport`]): they are few.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An answer as read, and its `Retry-After`.
type Read = (RawBankResponse, Option<Duration>);

use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::client::BankTimeouts;
use super::fdx::{BankCallError, MAX_BODY_BYTES, RawBankResponse, raw_answer, retry_after};
use super::secret::BankSecret;

/// Most idle connections kept per bank (more are closed when they come back).
const MAX_IDLE: usize = 256;

type Driver = http1::Connection<TokioIo<TlsStream<TcpStream>>, Empty<Bytes>>;

/// One connection: the handle requests go through, and the connection future that does the reading and writing.
struct Connection {
    sender: http1::SendRequest<Empty<Bytes>>,
    driver: Pin<Box<Driver>>,
    /// The connection future finished: the connection is closed.
    closed: bool,
}

/// How one exchange on one connection failed.
enum Failure {
    /// Before any answer: the request may be sent again on a new connection.
    BeforeAnswer(BankCallError),
    /// After the answer began: the bank saw the request.
    Answered(BankCallError),
}

/// The read connections to one bank (module docs).
pub(crate) struct ReadPool {
    tls: TlsConnector,
    server_name: ServerName<'static>,
    host: String,
    port: u16,
    /// The `Host` header (RFC 9112 §3.2).
    authority: HeaderValue,
    timeouts: BankTimeouts,
    idle: Mutex<Vec<(Connection, Instant)>>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool").field("host", &self.host).field("port", &self.port).finish()
    }
}

impl ReadPool {
    /// Reads from the bank whose API is at `api` (an `https` URL, checked by the directory), with `tls` (the
    /// gateway's client configuration for this bank).
    pub(crate) fn new(
        api: &str,
        tls: &Arc<rustls::ClientConfig>,
        timeouts: BankTimeouts,
    ) -> Result<Self, BankCallError> {
        let invalid = |what: &str| BankCallError::InvalidRequest(format!("the bank's API URL `{api}`: {what}"));
        let url = oauth2::url::Url::parse(api).map_err(|e| invalid(&e.to_string()))?;
        // As written in the URL (an IPv6 address in brackets) for `Host`, without brackets for connecting and SNI.
        let written = url.host_str().ok_or_else(|| invalid("no host"))?;
        let host = written.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().ok_or_else(|| invalid("no port"))?;
        let server_name = ServerName::try_from(host.to_owned()).map_err(|e| invalid(&e.to_string()))?;
        let authority = url.port().map_or_else(|| written.to_owned(), |port| format!("{written}:{port}"));
        let mut tls = rustls::ClientConfig::clone(tls);
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: TlsConnector::from(Arc::new(tls)),
            server_name,
            host: host.to_owned(),
            port,
            authority: HeaderValue::from_str(&authority).map_err(|e| invalid(&e.to_string()))?,
            timeouts,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// `GET path` (an FDX path with its query, checked by the caller) with the bank token and the interaction id:
    /// the answer below 500, or what went wrong.
    pub(crate) async fn get(
        &self,
        path: &str,
        token: &BankSecret,
        interaction_id: &str,
    ) -> Result<RawBankResponse, BankCallError> {
        let invalid = |e: http::Error| BankCallError::InvalidRequest(e.to_string());
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| BankCallError::InvalidRequest("the bank token is not a valid header value".into()))?;
        bearer.set_sensitive(true);
        let interaction = HeaderValue::from_str(interaction_id)
            .map_err(|_| BankCallError::InvalidRequest("the interaction id is not a valid header value".into()))?;
        let request = || {
            Request::builder()
                .method(Method::GET)
                .uri(path)
                .header(header::HOST, self.authority.clone())
                .header(header::AUTHORIZATION, bearer.clone())
                .header("x-fapi-interaction-id", interaction.clone())
                .header(header::ACCEPT, HeaderValue::from_static("application/json"))
                .body(Empty::<Bytes>::new())
                .map_err(invalid)
        };
        let exchange = async {
            if let Some(mut connection) = self.take_idle() {
                match exchange(&mut connection, request()?).await {
                    Err(Failure::BeforeAnswer(_)) => {}
                    other => return self.settle(connection, other),
                }
            }
            let mut connection = self.connect().await?;
            let answer = exchange(&mut connection, request()?).await;
            self.settle(connection, answer)
        };
        tokio::time::timeout(self.timeouts.request, exchange)
            .await
            .map_err(|_| BankCallError::Timeout(format!("no answer within {:?}", self.timeouts.request)))?
    }

    /// The connection goes back to the pool after a whole answer; the answer or the failure goes to the caller.
    fn settle(&self, connection: Connection, answer: Result<Read, Failure>) -> Result<RawBankResponse, BankCallError> {
        match answer {
            Ok((response, retry_after)) => {
                self.put_idle(connection);
                raw_answer(response, retry_after)
            }
            Err(Failure::BeforeAnswer(error) | Failure::Answered(error)) => Err(error),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Connection, Instant)>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The newest idle connection still open and not idle too long.
    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.lock();
        while let Some((connection, since)) = idle.pop() {
            if !connection.closed && !connection.sender.is_closed() && since.elapsed() < self.timeouts.pool_idle {
                return Some(connection);
            }
        }
        None
    }

    fn put_idle(&self, connection: Connection) {
        if connection.closed || connection.sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push((connection, Instant::now()));
        }
    }

    /// A new connection: TCP, TLS (the gateway's certificate), HTTP/1.1.
    async fn connect(&self) -> Result<Connection, BankCallError> {
        let open = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| BankCallError::Connect(e.to_string()))?;
            tcp.set_nodelay(true).map_err(|e| BankCallError::Connect(e.to_string()))?;
            let tls = self.tls.connect(self.server_name.clone(), tcp).await.map_err(|e| {
                if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                    BankCallError::Tls(e.to_string())
                } else {
                    BankCallError::Connect(e.to_string())
                }
            })?;
            let (sender, driver) =
                http1::handshake(TokioIo::new(tls)).await.map_err(|e| BankCallError::Connect(e.to_string()))?;
            Ok(Connection { sender, driver: Box::pin(driver), closed: false })
        };
        tokio::time::timeout(self.timeouts.connect, open)
            .await
            .map_err(|_| BankCallError::Timeout(format!("no connection within {:?}", self.timeouts.connect)))?
    }
}

/// One request and its whole answer on `connection`, driving the connection meanwhile.
async fn exchange(connection: &mut Connection, request: Request<Empty<Bytes>>) -> Result<Read, Failure> {
    let Connection { sender, driver, closed } = connection;
    let reset = |e: hyper::Error| BankCallError::Reset(e.to_string());
    drive(driver, closed, poll_fn(|cx| sender.poll_ready(cx))).await.map_err(|e| Failure::BeforeAnswer(reset(e)))?;
    let response =
        drive(driver, closed, sender.send_request(request)).await.map_err(|e| Failure::BeforeAnswer(reset(e)))?;
    let (head, mut body) = response.into_parts();
    let too_large = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES as u64);
    if too_large {
        *closed = true;
        return Err(Failure::Answered(BankCallError::TooLarge));
    }
    let mut bytes = Vec::new();
    while let Some(frame) = drive(driver, closed, body.frame()).await {
        let frame = frame.map_err(|e| Failure::Answered(reset(e)))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > MAX_BODY_BYTES {
                *closed = true;
                return Err(Failure::Answered(BankCallError::TooLarge));
            }
            bytes.extend_from_slice(&data);
        }
    }
    let interaction_id = head.headers.get("x-fapi-interaction-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let answer = RawBankResponse { status: head.status.as_u16(), interaction_id, body: bytes };
    Ok((answer, retry_after(&head.headers)))
}

/// Polls `work` with the connection's future beside it (the connection does the reading and writing `work` waits
/// for), until `work` is done. Once the connection future finished (closed), it is not polled again; `work` then
/// ends with hyper's error for a closed connection.
async fn drive<F: Future>(driver: &mut Pin<Box<Driver>>, closed: &mut bool, work: F) -> F::Output {
    let mut work = std::pin::pin!(work);
    poll_fn(|cx| {
        if !*closed && driver.as_mut().poll(cx).is_ready() {
            *closed = true;
        }
        work.as_mut().poll(cx)
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    /// A TLS server on loopback that answers every request on a connection with a small JSON body, and closes each
    /// connection after `answers_per_connection` answers without saying so (as a bank closing an idle connection
    /// does). Counts the connections it accepted. `declared` replaces the body's length in `content-length`.
    async fn bank(
        answers_per_connection: usize,
        declared: Option<usize>,
    ) -> (String, Arc<rustls::ClientConfig>, Arc<AtomicUsize>) {
        certs::install_crypto_provider();
        let pki = certs::Pki::generate().unwrap();
        let server = pki.issue_server("localhost").unwrap();
        let config = certs::server_config(&server, &pki.ca_der(), certs::ClientAuth::Optional).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buffer = Vec::new();
                    for _ in 0..answers_per_connection {
                        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                            let mut chunk = [0u8; 1024];
                            match tls.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buffer.clear();
                        let body = br#"{"accounts":[]}"#;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-fapi-interaction-id: ia-1\r\n\
                             content-length: {}\r\n\r\n",
                            declared.unwrap_or(body.len())
                        );
                        let _ = tls.write_all(head.as_bytes()).await;
                        let _ = tls.write_all(body).await;
                        let _ = tls.flush().await;
                    }
                    let _ = tls.shutdown().await;
                });
            }
        });
        let client = pki.issue_client("gateway-client").unwrap();
        (format!("https://localhost:{port}"), certs::client_config(&pki.ca_der(), Some(&client)).unwrap(), accepted)
    }

    fn timeouts() -> BankTimeouts {
        BankTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(5),
            pool_idle: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn sequential_reads_share_one_kept_alive_connection() {
        let (api, tls, accepted) = bank(usize::MAX, None).await;
        let pool = ReadPool::new(&api, &tls, timeouts()).unwrap();
        for _ in 0..5 {
            let answer = pool.get("/fdx/v6/accounts", &BankSecret::new("t"), "ia-1").await.unwrap();
            assert_eq!((answer.status, answer.body.as_slice()), (200, br#"{"accounts":[]}"#.as_slice()));
            assert_eq!(answer.interaction_id.as_deref(), Some("ia-1"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_bank_closed_while_idle_is_replaced_and_the_read_answered() {
        let (api, tls, accepted) = bank(1, None).await;
        let pool = ReadPool::new(&api, &tls, timeouts()).unwrap();
        for _ in 0..3 {
            let answer = pool.get("/fdx/v6/accounts", &BankSecret::new("t"), "ia-1").await.unwrap();
            assert_eq!(answer.status, 200);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3, "one connection per answer, no read lost");
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_limit_is_refused_and_its_connection_not_kept() {
        let (api, tls, accepted) = bank(usize::MAX, Some(MAX_BODY_BYTES + 1)).await;
        let pool = ReadPool::new(&api, &tls, timeouts()).unwrap();
        for round in 1..=2 {
            let refused = pool.get("/fdx/v6/accounts", &BankSecret::new("t"), "ia-1").await;
            assert!(matches!(refused, Err(BankCallError::TooLarge)), "{refused:?}");
            assert_eq!(accepted.load(Ordering::SeqCst), round, "a connection with an unread answer is not reused");
        }
    }
}

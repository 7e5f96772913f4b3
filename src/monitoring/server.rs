//! The monitoring HTTP server: one thread of its own (`spate-http`, a single-threaded tokio
//! runtime), never a worker's, serving Flume's JSON and the Prometheus endpoints.
//!
//! What a slow or hostile client can cost is bounded: at most [`MAX_CONNECTIONS`] connections
//! per listener are served (more are closed at once); a request head must arrive within
//! [`HEAD_TIMEOUT`] and fit in [`MAX_HEAD`] bytes; a request body is never read (a client that
//! sends one gets its answer and the connection is closed); a connection lives at most
//! [`CONNECTION_LIFETIME`]. Answers are rendered from a snapshot of the counters, which holds
//! the registry's lock only to copy them.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use super::{flume_json, prometheus, Health, Metrics};

/// Connections served at once per listener.
pub const MAX_CONNECTIONS: usize = 64;
/// Time allowed for a request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head accepted (hyper's buffer; a longer head is refused with 431).
pub const MAX_HEAD: usize = 16 * 1024;
/// A connection is closed after this long, whatever it does.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Which API a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Flume's `HTTPMetricsServer`: `/metrics` as JSON.
    FlumeJson,
    /// `/metrics` as Prometheus text, `/health`, `/ready`.
    Prometheus,
}

/// A listener to open.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// What it serves.
    pub api: Api,
    /// Where.
    pub addr: SocketAddr,
}

/// The running server.
#[derive(Debug)]
pub struct Server {
    /// The bound addresses, in the order of the endpoints (port 0 resolved).
    pub addrs: Vec<SocketAddr>,
}

/// Binds every endpoint now (so that a taken port is an error at start), then serves them on
/// the `spate-http` thread for the rest of the process.
pub fn start(
    metrics: Arc<Metrics>,
    health: Health,
    endpoints: &[Endpoint],
) -> std::io::Result<Server> {
    let mut listeners = Vec::new();
    let mut addrs = Vec::new();
    for e in endpoints {
        let listener = TcpListener::bind(e.addr).map_err(|err| {
            std::io::Error::new(err.kind(), format!("cannot listen on {}: {err}", e.addr))
        })?;
        listener.set_nonblocking(true)?;
        addrs.push(listener.local_addr()?);
        listeners.push((e.api, listener));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("spate-http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut tasks = Vec::new();
                for (api, listener) in listeners {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => tasks.push(tokio::spawn(accept(l, api, metrics.clone(), health))),
                        Err(e) => warn!("monitoring listener unusable: {e}"),
                    }
                }
                for t in tasks {
                    let _ = t.await;
                }
            });
        })?;
    Ok(Server { addrs })
}

async fn accept(
    listener: tokio::net::TcpListener,
    api: Api,
    metrics: Arc<Metrics>,
    health: Health,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, most likely: wait rather than spin.
                debug!("monitoring accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(%peer, "monitoring connection refused: {MAX_CONNECTIONS} already open");
            continue; // dropped: closed at once
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(answer(api, &req, &metrics, health)) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service);
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                debug!(%peer, "monitoring connection ended: {e}");
            }
        });
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

const JSON: &str = "application/json;charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// The answer to `req`, for a listener of `api`.
fn answer<B>(
    api: Api,
    req: &Request<B>,
    metrics: &Metrics,
    health: Health,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    match api {
        // As Flume's HTTPMetricsServer: TRACE and OPTIONS are forbidden, `/` links to the
        // metrics, `/metrics` (any case) is the JSON, anything else is 404 (whatever the
        // method).
        Api::FlumeJson => {
            if req.method() == Method::TRACE || req.method() == Method::OPTIONS {
                return respond(StatusCode::FORBIDDEN, TEXT, String::new());
            }
            if path == "/" {
                return respond(
                    StatusCode::OK,
                    "text/html;charset=utf-8",
                    "For Flume metrics please click <a href=\"./metrics\"> here</a>.".into(),
                );
            }
            if path.eq_ignore_ascii_case("/metrics") {
                return respond(
                    StatusCode::OK,
                    JSON,
                    flume_json::render(&metrics.snapshot()),
                );
            }
            respond(StatusCode::NOT_FOUND, TEXT, String::new())
        }
        Api::Prometheus => {
            if req.method() != Method::GET && req.method() != Method::HEAD {
                let mut r = respond(
                    StatusCode::METHOD_NOT_ALLOWED,
                    TEXT,
                    "only GET and HEAD\n".into(),
                );
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                return r;
            }
            match path {
                "/metrics" => respond(
                    StatusCode::OK,
                    prometheus::CONTENT_TYPE,
                    prometheus::render(&metrics.snapshot()),
                ),
                "/health" => {
                    let snapshot = metrics.snapshot();
                    if !snapshot.running {
                        return respond(
                            StatusCode::SERVICE_UNAVAILABLE,
                            JSON,
                            r#"{"status":"stopped"}"#.into(),
                        );
                    }
                    let stuck = health.stuck(&snapshot);
                    if stuck.is_empty() {
                        respond(StatusCode::OK, JSON, r#"{"status":"ok"}"#.into())
                    } else {
                        let body = serde_json::json!({
                            "status": "unhealthy",
                            "reason": format!(
                                "sinks holding a take undelivered for longer than {} ms",
                                health.sink_timeout.as_millis()
                            ),
                            "sinks": stuck,
                        });
                        respond(StatusCode::SERVICE_UNAVAILABLE, JSON, body.to_string())
                    }
                }
                "/ready" => {
                    if metrics.snapshot().running {
                        respond(StatusCode::OK, JSON, r#"{"status":"ready"}"#.into())
                    } else {
                        respond(
                            StatusCode::SERVICE_UNAVAILABLE,
                            JSON,
                            r#"{"status":"not running"}"#.into(),
                        )
                    }
                }
                "/" => respond(
                    StatusCode::OK,
                    TEXT,
                    "spate: /metrics (Prometheus text), /health, /ready\n".into(),
                ),
                _ => respond(StatusCode::NOT_FOUND, TEXT, "not found\n".into()),
            }
        }
    }
}

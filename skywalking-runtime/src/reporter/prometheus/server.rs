//! The listener of `SW_AGENT_PROMETHEUS_LISTEN`: HTTP/1.1 (hyper) on a thread of its own,
//! `skywalking-prometheus`, with its own `current_thread` tokio runtime, so it needs
//! nothing from the application and never runs on one of its threads.
//!
//! It answers `GET` and `HEAD` of `/metrics` (404 elsewhere, 405 for other methods),
//! keeps connections alive as Prometheus does between scrapes, and guards itself:
//! at most [`MAX_CONNECTIONS`] at once (more are closed on accept), a request head must
//! arrive within [`HEADER_TIMEOUT`] and a connection lives at most [`CONNECTION_LIFETIME`].
//! The socket is bound by [`Server::start`], on the caller's thread, so a bad or busy
//! address is an error of `init()`, not a silent failure later.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::oneshot;

use crate::diag::diag;

/// Connections served at once; more are closed as soon as they are accepted.
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request head.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one connection may stay open (Prometheus then opens a new one).
pub(crate) const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// The path served.
pub(crate) const PATH: &str = "/metrics";

/// The running listener; dropping it stops the thread (and closes the socket).
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` and starts serving on a new thread.
    pub(crate) fn start(addr: SocketAddr) -> io::Result<Server> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("skywalking-prometheus".into())
            .spawn(move || {
                // Built and dropped here, never on the caller's thread, which may be
                // inside an async runtime (where dropping a runtime panics).
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        diag!(Warn, "the metrics listener cannot start a runtime: {e}");
                        return;
                    }
                };
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            tokio::spawn(accept(listener));
                            // Until the server is dropped (or its sender is gone).
                            let _ = stopped.await;
                        }
                        Err(e) => diag!(Warn, "the metrics listener cannot start: {e}"),
                    }
                });
                // Dropping the runtime cancels the accept loop and every connection.
                drop(runtime);
            })?;
        Ok(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the socket is bound to (the real port when `:0` was asked).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The thread only has to drop its runtime; wait for it so that the port is free
        // once the agent has stopped, but never on the server thread itself.
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until the runtime is dropped.
async fn accept(listener: tokio::net::TcpListener) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, keep serving.
                diag!(Debug, "the metrics listener could not accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::AcqRel);
            drop(stream);
            continue;
        }
        let open = open.clone();
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service_fn(serve));
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            open.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// Answers one request.
async fn serve(request: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(route(
        request.method(),
        request.uri().path(),
        request.headers(),
    ))
}

/// The response to a request for `path`.
fn route(method: &Method, path: &str, headers: &http::HeaderMap) -> Response<String> {
    if path != PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    super::response(headers)
}

/// A short text response.
pub(crate) fn plain(status: StatusCode, body: &'static str) -> Response<String> {
    let mut response = Response::new(body.to_owned());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_and_head_of_the_metrics_path_are_served() {
        let headers = http::HeaderMap::new();
        assert_eq!(
            route(&Method::GET, "/", &headers).status(),
            StatusCode::NOT_FOUND
        );
        let post = route(&Method::POST, PATH, &headers);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
        assert_ne!(
            route(&Method::HEAD, PATH, &headers).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn a_busy_address_is_an_error_and_a_dropped_server_frees_its_port() {
        let server = Server::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        assert!(Server::start(addr).is_err(), "the port is taken");
        drop(server);
        let again = Server::start(addr).expect("the port is free again after drop");
        drop(again);
    }
}

//! hyper 1.x on both sides: a server served through the tower entry-span layer
//! (`TowerToHyperService`) and hyper-util's client through `ClientLayer` (exit spans,
//! `sw8` injected). The client calls from inside a traced function, so each call is one
//! trace of two segments linked by a `CrossProcess` reference. Reports to an embedded
//! collector and prints the traces.
//!
//! Run: `cargo run -p skywalking-examples --bin hyper`.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use skywalking_testkit::MockCollector;
use sw::integrations::hyper::ClientLayer;
use sw::integrations::tower::ServerLayer;
use tower::{Layer, ServiceExt, service_fn};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[sw::trace]
async fn greeting(path: &str) -> String {
    format!("hello from {path}")
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = greeting(request.uri().path()).await;
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Serves `handle` behind the entry-span layer; returns the bound address.
async fn serve() -> Result<std::net::SocketAddr, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let service = ServerLayer::new().layer(service_fn(handle));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// A client call from a traced function: the exit span is its child.
#[sw::trace(name = "fetch")]
async fn fetch(addr: std::net::SocketAddr, path: &str) -> Result<String, Error> {
    let client = ClientLayer::new()
        .layer(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    let request = Request::get(format!("http://{addr}{path}")).body(Empty::new())?;
    let response = client.oneshot(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let collector = MockCollector::start().await?;
    let _agent = sw::Agent::builder()
        .service("hyper-example")
        .backend(collector.addr().to_string())
        .start()?;
    let addr = serve().await?;
    for path in ["/a", "/b"] {
        println!("GET {path} -> {}", fetch(addr, path).await?);
    }
    // Two traces of two segments each: the client's and the server's.
    collector
        .wait_for_segments(4, Duration::from_secs(10))
        .await?;
    for trace in collector.trace_ids() {
        println!("\ntrace {trace}\n{}", collector.trace_tree(&trace));
    }
    Ok(())
}

//! The demo service of `examples/kubernetes`: an axum server with the agent, configured
//! entirely from the environment the Deployment sets (`SW_AGENT_*`, downward API), that
//! shuts down gracefully on SIGTERM so the segments still queued reach OAP before the
//! pod is gone.
//!
//! Routes: `GET /order` (an entry span and a traced function below it) and `GET /health`
//! (the probes; `SW_AGENT_TRACE_IGNORE_PATH=/health` keeps them out of the traces).
//! Listens on `PORT` (default 8080).
//!
//! Locally: `SW_AGENT_COLLECTOR_BACKEND_SERVICES=127.0.0.1:11800 cargo run -p
//! skywalking-kubernetes-demo`, then `curl localhost:8080/order` and Ctrl-C.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sw::integrations::axum::ServerLayer;

/// A local span below the entry span of `GET /order`.
#[sw::trace(tags(sku = sku))]
async fn price(sku: &str) -> u64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    100 * sku.len() as u64
}

async fn order() -> String {
    format!("price: {}\n", price("sku-42").await)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Reads SW_AGENT_* (a bad value is an error naming the variable), checks the
    // collector on a thread of its own and logs one line per address.
    let agent = sw::init()?;
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse::<u16>()?,
        Err(_) => 8080,
    };
    let app = Router::new()
        .route("/order", get(order))
        .route("/health", get(|| async { "ok\n" }))
        .layer(ServerLayer::new());
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    eprintln!("k8s-demo listening on :{port}");
    // SIGTERM (Kubernetes) or Ctrl-C: stop accepting, finish the requests under way...
    axum::serve(listener, app)
        .with_graceful_shutdown(sw::shutdown_signal())
        .await?;
    // ...then send what is still queued (5 s at most, well inside the pod's 30 s grace).
    let flushed = agent.shutdown(Duration::from_secs(5));
    eprintln!("k8s-demo stopped; queued telemetry sent: {flushed}");
    Ok(())
}

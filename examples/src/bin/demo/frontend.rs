//! The `frontend` service: an axum server that checks out an order through `backend`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use sw::integrations::axum::ServerLayer;
use sw::integrations::reqwest::RequestBuilderExt;

use crate::service::{self, Error};

#[derive(Clone)]
struct Backend {
    client: reqwest::Client,
    addr: String,
}

#[sw::trace(tags(order.id = order_id))]
async fn checkout(
    backend: &Backend,
    order_id: &str,
) -> Result<(StatusCode, String), reqwest::Error> {
    let response = backend
        .client
        .post(format!("http://{}/orders/{order_id}/pay", backend.addr))
        .send_traced()
        .await?;
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    Ok((status, response.text().await?))
}

async fn handle(
    State(backend): State<Backend>,
    Path(order_id): Path<String>,
) -> (StatusCode, HeaderMap, String) {
    // The trace id goes back to the caller, to look the trace up.
    let mut headers = HeaderMap::new();
    if let Some(id) = sw::trace_id().and_then(|id| id.to_string().parse().ok()) {
        headers.insert("x-trace-id", id);
    }
    match checkout(&backend, &order_id).await {
        Ok((status, body)) => (status, headers, body),
        Err(error) => (StatusCode::BAD_GATEWAY, headers, error.to_string()),
    }
}

pub(crate) async fn run(backend_addr: String) -> Result<(), Error> {
    let _agent = service::start_agent("frontend")?;
    let backend = Backend {
        client: reqwest::Client::new(),
        addr: backend_addr,
    };
    let app = Router::new()
        .route("/checkout/{order_id}", get(handle))
        .layer(ServerLayer::new())
        .with_state(backend);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    service::ready(listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(service::stdin_closed())
        .await?;
    Ok(())
}

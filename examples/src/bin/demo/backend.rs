//! The `backend` service: an axum server that prices an order, charges it through the
//! `payments` gRPC service and records it in its database (see `orders`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use skywalking_examples::payments::ChargeRequest;
use skywalking_examples::payments::payments_client::PaymentsClient;
use sw::integrations::axum::ServerLayer;
use sw::integrations::tonic::{ClientLayer, ClientService};
use tonic::transport::Channel;
use tower_layer::Layer;

use crate::orders::Orders;
use crate::service::{self, Error};

type Payments = PaymentsClient<ClientService<Channel>>;

/// What the handler works with.
struct App {
    payments: Payments,
    orders: Orders,
}

/// The price of an order, in cents (a sync function: its span nests all the same).
#[sw::trace(tags(order.id = order_id))]
fn price(order_id: &str) -> u64 {
    order_id.bytes().map(u64::from).sum::<u64>() * 10
}

#[sw::trace(name = "charge order", err)]
async fn charge(mut payments: Payments, order_id: String) -> Result<(String, u64), tonic::Status> {
    let amount_cents = price(&order_id);
    let reply = payments
        .charge(ChargeRequest {
            order_id,
            amount_cents,
        })
        .await?;
    Ok((reply.into_inner().receipt, amount_cents))
}

async fn pay(
    State(app): State<Arc<App>>,
    Path(order_id): Path<String>,
) -> Result<String, (StatusCode, String)> {
    let (receipt, amount_cents) = charge(app.payments.clone(), order_id.clone())
        .await
        .map_err(|status| (StatusCode::PAYMENT_REQUIRED, status.message().to_owned()))?;
    app.orders
        .record(&order_id, amount_cents, &receipt)
        .await
        .map_err(|error| (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    Ok(receipt)
}

pub(crate) async fn run(payments_addr: String) -> Result<(), Error> {
    let _agent = service::start_agent("backend")?;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{payments_addr}"))?.connect_lazy();
    // The exit span's peer is the address used: OAP links it to the payments service.
    let payments = PaymentsClient::new(ClientLayer::new(payments_addr).layer(channel));
    let orders = Orders::open().await?;
    let app = Router::new()
        .route("/orders/{order_id}/pay", post(pay))
        .layer(ServerLayer::new())
        .with_state(Arc::new(App { payments, orders }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    service::ready(listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(service::stdin_closed())
        .await?;
    Ok(())
}

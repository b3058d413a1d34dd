//! The `payments` service: a tonic gRPC server.

use skywalking_examples::payments::payments_server::{Payments, PaymentsServer};
use skywalking_examples::payments::{ChargeReply, ChargeRequest};
use sw::integrations::tonic::ServerLayer;

use crate::service::{self, Error};

struct PaymentService;

#[tonic::async_trait]
impl Payments for PaymentService {
    async fn charge(
        &self,
        request: tonic::Request<ChargeRequest>,
    ) -> Result<tonic::Response<ChargeReply>, tonic::Status> {
        let request = request.into_inner();
        match authorize(&request.order_id, request.amount_cents).await {
            Ok(receipt) => Ok(tonic::Response::new(ChargeReply { receipt })),
            Err(declined) => Err(tonic::Status::failed_precondition(declined)),
        }
    }
}

/// Asks the (imaginary) card network; orders ending in 3 are declined.
#[sw::trace(err, tags(order.id = order_id, amount.cents = amount_cents))]
async fn authorize(order_id: &str, amount_cents: u64) -> Result<String, String> {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    if order_id.ends_with('3') {
        return Err(format!("card declined for order {order_id}"));
    }
    Ok(format!("rcpt-{order_id}-{amount_cents}"))
}

pub(crate) async fn run() -> Result<(), Error> {
    let _agent = service::start_agent("payments")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    service::ready(listener.local_addr()?);
    tonic::transport::Server::builder()
        .layer(ServerLayer::new())
        .add_service(PaymentsServer::new(PaymentService))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            service::stdin_closed(),
        )
        .await?;
    Ok(())
}

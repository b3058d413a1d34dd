//! actix-web with the `ServerLayer` middleware: each request gets an entry span named by
//! its resource pattern, and `#[sw::trace]` functions in handlers are its children.
//! Reports to an embedded collector and prints the traces.
//!
//! Run: `cargo run -p skywalking-examples --bin actix`.

use std::time::Duration;

use actix_web::{App, HttpServer, web};
use skywalking_testkit::MockCollector;
use sw::integrations::actix_web::ServerLayer;

#[sw::trace(tags(user.id = id))]
async fn load_user(id: u64) -> String {
    format!("user {id}")
}

async fn user(id: web::Path<u64>) -> String {
    load_user(id.into_inner()).await
}

/// Serves on an actix system of its own thread; returns the bound address.
fn serve() -> std::io::Result<std::net::SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new()
                    .wrap(ServerLayer::new())
                    .route("/users/{id}", web::get().to(user))
            })
            .workers(1)
            .bind("127.0.0.1:0");
            match server {
                Ok(server) => {
                    let _ = tx.send(Ok(server.addrs()[0]));
                    let _ = server.run().await;
                }
                Err(error) => {
                    let _ = tx.send(Err(error));
                }
            }
        });
    });
    rx.recv().map_err(std::io::Error::other)?
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let collector = MockCollector::start().await?;
    let _agent = sw::Agent::builder()
        .service("actix-example")
        .backend(collector.addr().to_string())
        .start()?;
    let addr = serve()?;
    let client = reqwest::Client::new();
    for id in [7, 8] {
        let body = client
            .get(format!("http://{addr}/users/{id}"))
            .send()
            .await?
            .text()
            .await?;
        println!("GET /users/{id} -> {body}");
    }
    collector
        .wait_for_segments(2, Duration::from_secs(10))
        .await?;
    for trace in collector.trace_ids() {
        println!("\ntrace {trace}\n{}", collector.trace_tree(&trace));
    }
    Ok(())
}

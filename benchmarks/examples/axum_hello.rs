//! The service of the end-to-end load benchmark (`e2e.sh`): axum answering
//! `GET /hello` on a current-thread runtime (so its CPU is one core's), with or without
//! the agent's axum `ServerLayer`.
//!
//! `axum_hello <port> <none|layer>`; the agent reads `SW_AGENT_*` as in production
//! (`SW_AGENT_COLLECTOR_BACKEND_SERVICES` for the collector, `SW_AGENT_SAMPLE`,
//! `SW_AGENT_DISABLE`). Prints its pid, then serves until killed.

use axum::Router;
use axum::routing::get;

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).expect("port");
    let layer = args.next().as_deref() == Some("layer");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let agent = layer.then(|| skywalking_runtime::init().expect("agent config"));
    rt.block_on(async move {
        let router = Router::new().route("/hello", get(|| async { "hello" }));
        let router = if layer {
            router.layer(skywalking_runtime::integrations::axum::ServerLayer::new())
        } else {
            router
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        println!("{}", std::process::id());
        axum::serve(listener, router).await.expect("serve");
    });
    drop(agent);
}

//! The actix-web middleware on a loopback `HttpServer` (its own actix system thread),
//! called by a traced hyper client: linked segments, naming by resource pattern, tags,
//! errors, ignore rules, handler spans as children.

mod common;
mod integration_support;

use std::net::SocketAddr;
use std::sync::OnceLock;

use actix_web::{App, HttpResponse, HttpServer, error, web};
use integration_support::{
    FRONT, any_span_named, assert_child, assert_linked, client, find, get, in_front, send_traced,
    tags,
};
use skywalking_proto::v3::SpanLayer;
use skywalking_runtime::integrations::actix_web::{ServerLayer, UNMATCHED};
use skywalking_runtime::{Span, trace};

#[trace(name = "load_user")]
async fn load_user(id: u64) -> String {
    actix_web::rt::task::yield_now().await;
    format!("user {id}")
}

async fn user(id: web::Path<u64>) -> String {
    {
        let _query = Span::local("db.query");
    }
    load_user(id.into_inner()).await
}

async fn fail() -> Result<HttpResponse, actix_web::Error> {
    let _work = Span::local("failing.work");
    Err(error::ErrorInternalServerError("boom"))
}

async fn bad() -> Result<HttpResponse, actix_web::Error> {
    Err(error::ErrorBadRequest("missing field"))
}

async fn health() -> &'static str {
    let _work = Span::local("health.work");
    "ok"
}

/// One server per test binary, on an actix system of its own.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(|| {
                    App::new()
                        .wrap(ServerLayer::new())
                        .route("/users/{id}", web::get().to(user))
                        .route("/fail", web::get().to(fail))
                        .route("/bad", web::get().to(bad))
                        .route("/health", web::get().to(health))
                        .service(
                            web::scope("/api")
                                .route("/orders/{id}", web::get().to(|| async { "order" })),
                        )
                })
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .unwrap();
                tx.send(server.addrs()[0]).unwrap();
                server.run().await.unwrap();
            });
        });
        rx.recv().unwrap()
    })
}

fn start() -> (common::Memory, SocketAddr) {
    let memory = common::start_with(|b| b.trace_ignore_paths(["/health"]));
    (memory, server())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_client_and_server() {
    let (memory, addr) = start();
    let (trace, (status, body)) = in_front(send_traced(
        &client(),
        addr.to_string(),
        get(addr, "/users/7?token=x"),
    ))
    .await;
    assert_eq!((status, body.as_str()), (200, "user 7"));

    let segments = memory.trace(&trace);
    let (_, exit, server, entry) = assert_linked(&segments, "client GET", "GET /users/{id}");
    assert_eq!(exit.peer, addr.to_string());
    assert_eq!(entry.component_id, 49);
    assert_eq!(entry.span_layer, SpanLayer::Http as i32);
    assert!(!entry.is_error);
    let tags = tags(entry);
    assert_eq!(tags["http.method"], "GET");
    assert_eq!(tags["url"], "/users/7");
    assert_eq!(tags["http.status_code"], "200");
    assert_child(server, entry, "db.query");
    assert_child(server, entry, "load_user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_scopes_and_unmatched() {
    let (memory, addr) = start();
    let client = client();
    let call =
        |path: &'static str| in_front(send_traced(&client, addr.to_string(), get(addr, path)));

    let (trace, (status, _)) = call("/fail").await;
    assert_eq!(status, 500);
    let segments = memory.trace(&trace);
    let (_, _, server, entry) = assert_linked(&segments, "client GET", "GET /fail");
    assert!(entry.is_error);
    assert_eq!(tags(entry)["http.status_code"], "500");
    assert!(
        entry
            .logs
            .iter()
            .flat_map(|l| &l.data)
            .any(|kv| kv.key == "message" && kv.value == "boom"),
        "{:?}",
        entry.logs
    );
    assert_child(server, entry, "failing.work");

    let (trace, (status, _)) = call("/bad").await;
    assert_eq!(status, 400);
    let segments = memory.trace(&trace);
    let (_, _, _, entry) = assert_linked(&segments, "client GET", "GET /bad");
    assert!(entry.is_error, "a 4xx is an error, logged and tagged");
    assert_eq!(tags(entry)["http.status_code"], "400");
    assert!(!entry.logs.is_empty());

    let (trace, (status, _)) = call("/api/orders/5").await;
    assert_eq!(status, 200);
    let segments = memory.trace(&trace);
    assert_linked(&segments, "client GET", "GET /api/orders/{id}");

    let (trace, (status, _)) = call("/no/such/path").await;
    assert_eq!(status, 404);
    let segments = memory.trace(&trace);
    let (_, _, _, entry) = assert_linked(&segments, "client GET", &format!("GET {UNMATCHED}"));
    assert_eq!(tags(entry)["url"], "/no/such/path");
    assert_eq!(tags(entry)["http.status_code"], "404");
    assert!(entry.is_error, "a 404 is an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_path_records_nothing() {
    let (memory, addr) = start();
    let (trace, (status, _)) = in_front(send_traced(
        &client(),
        addr.to_string(),
        get(addr, "/health"),
    ))
    .await;
    assert_eq!(status, 200);
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1, "only the client's segment");
    find(&segments, FRONT);
    let all = memory.all();
    assert!(!any_span_named(&all, "health.work"));
    assert!(!any_span_named(&all, "GET /health"));
}

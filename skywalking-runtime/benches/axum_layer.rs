//! What the axum layer adds to a request: the same router with and without the axum
//! `ServerLayer`, driven in-process as a tower service (`oneshot`, no network) on a
//! current-thread tokio runtime, with the agent running and a reporter that discards
//! what it gets (segments are still encoded on the reporter thread).
//!
//! Run with `cargo bench -p skywalking-runtime --features axum --bench axum_layer`.
//!
//! Cases, each one `GET /users/{id}` handled by the same handler:
//! - `bare`: the router alone;
//! - `layer_new_trace`: with the layer, no incoming header (a new, sampled trace each
//!   request: the entry span, its two tags on open and one on close, one segment);
//! - `layer_sw8`: with the layer and an incoming `sw8` header (decoded, continued);
//! - `layer_ignored`: with the layer, a path the ignore rules drop (no span, an unsampled
//!   context);
//! - baselines: `bare_sw8_header` (the bare router given the same header), `bare_health`
//!   (the ignored route, bare), `bare_in_span` (the bare router inside
//!   `FutureExt::in_span`: the runtime's own cost of a new trace with one span).
//!
//! On the project's 2-core machine (release, LTO, shared with other builds; the
//! reporter thread competes for the cores): `bare` 0.81 us, `layer_new_trace` 1.58 us
//! (+0.77 us; `bare_in_span` 1.00 us, so the span and segment themselves are about
//! +0.2 us and naming, tags, header lookups and the ignore check the rest),
//! `layer_sw8` 2.55 us vs `bare_sw8_header` 0.97 us (+1.58 us, over half of it decoding
//! `sw8` in `propagation::extract`), `layer_ignored` 0.89 us vs `bare_health` 0.60 us
//! (+0.29 us).

#![allow(missing_docs)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::integrations::axum::ServerLayer;
use skywalking_runtime::{Agent, Config, FutureExt, Reporter};
use tower::ServiceExt;

struct Discard;

impl Reporter for Discard {
    fn report(&mut self, segments: Vec<SegmentObject>) {
        black_box(segments);
    }
}

const SW8: &str = "1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3\
    -b3JkZXItc2VydmljZQ==\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy\
    -e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw";

async fn user(Path(id): Path<u64>) -> String {
    format!("user {id}")
}

fn routes() -> Router {
    Router::new()
        .route("/users/{id}", get(user))
        .route("/health", get(|| async { "ok" }))
}

fn request(path: &'static str, sw8: bool) -> Request<Body> {
    let mut builder = Request::get(path);
    if sw8 {
        builder = builder.header("sw8", SW8);
    }
    builder.body(Body::empty()).expect("request")
}

fn axum_layer(c: &mut Criterion) {
    let _agent = Agent::builder()
        .config(Config::default())
        .service("bench")
        .trace_ignore_paths(["/health"])
        .reporter(Discard)
        .start()
        .expect("agent");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let bare = routes();
    let traced = routes().layer(ServerLayer::new());

    let mut group = c.benchmark_group("axum_layer");
    let cases: [(&str, &Router, &'static str, bool); 6] = [
        ("bare", &bare, "/users/7", false),
        ("layer_new_trace", &traced, "/users/7", false),
        ("layer_sw8", &traced, "/users/7", true),
        ("bare_sw8_header", &bare, "/users/7", true),
        ("bare_health", &bare, "/health", false),
        ("layer_ignored", &traced, "/health", false),
    ];
    for (name, router, path, sw8) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let response = router.clone().oneshot(request(path, sw8)).await;
                    black_box(response.expect("infallible").status())
                })
            })
        });
    }
    // The runtime's own cost of a new trace with one span, for comparison: the bare
    // router inside `in_span` (no tags, no header).
    group.bench_function("bare_in_span", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = bare
                    .clone()
                    .oneshot(request("/users/7", false))
                    .in_span("GET /users/{id}")
                    .await;
                black_box(response.expect("infallible").status())
            })
        })
    });
    group.finish();
}

criterion_group!(benches, axum_layer);
criterion_main!(benches);

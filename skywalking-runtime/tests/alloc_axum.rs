//! What the axum layer allocates per request in steady state, counted by a global
//! allocator: nothing beyond what the same router allocates with a layer that does
//! nothing (axum boxes and clones the route service of any layer), for a request that
//! starts a trace and for one that continues an incoming `sw8`.
//!
//! Requests are served in-process (`oneshot` on a current-thread runtime), so that every
//! allocation is on the counting thread; the reporter hands segments back to the pool
//! between batches, outside the measurement.

mod common;
// The counting allocator is the one place tests need `unsafe`.
#[allow(unsafe_code)]
mod counting_alloc;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use counting_alloc::allocations;
use http::Request;
use skywalking_runtime::integrations::axum::ServerLayer;
use tower::ServiceExt;
use tower::util::MapRequestLayer;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

async fn user(Path(id): Path<u64>) -> &'static str {
    std::hint::black_box(id);
    "user"
}

fn routes() -> Router {
    Router::new().route("/users/{id}", get(user))
}

/// Fewer requests than the segment pool holds, so that every segment comes from it.
const BATCH: u64 = 50;

/// Allocations per request of `router` over `batches` batches, after as many batches of
/// warm-up (thread-local state, pools, buffer capacities).
fn allocations_per_request(
    rt: &tokio::runtime::Runtime,
    router: &Router,
    sw8: bool,
    batches: u64,
) -> f64 {
    let serve = || {
        let mut request = Request::get("/users/7");
        if sw8 {
            request = request.header("sw8", common::JAVA_SW8);
        }
        let request = request.body(Body::empty()).expect("a request");
        let response = rt
            .block_on(router.clone().oneshot(request))
            .expect("infallible");
        assert!(response.status().is_success());
    };
    // Warm-up with the reporter held, so that the pool grows to a whole batch's segments.
    for _ in 0..batches {
        common::with_reporter_held(|| {
            for _ in 0..BATCH {
                serve();
            }
        });
    }
    let mut total = 0;
    for _ in 0..batches {
        let before = allocations();
        for _ in 0..BATCH {
            serve();
        }
        total += allocations() - before;
        // The reporter hands the segments back to the pool (outside the measurement).
        assert!(common::flush(Duration::from_secs(5)));
    }
    total as f64 / (batches * BATCH) as f64
}

#[test]
fn the_layer_allocates_nothing_per_request_in_steady_state() {
    let _memory = common::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    // What axum itself charges for any layer: `tower`'s `MapRequest` with the identity.
    let bare = routes().layer(MapRequestLayer::new(|request: Request<Body>| request));
    let traced = routes().layer(ServerLayer::new());
    let counts: Vec<_> = [true, false]
        .into_iter()
        .map(|sw8| {
            let without = allocations_per_request(&rt, &bare, sw8, 20);
            let with = allocations_per_request(&rt, &traced, sw8, 20);
            (sw8, with, without)
        })
        .collect();
    for (sw8, with, without) in counts {
        assert_eq!(
            with, without,
            "allocations per request with the layer, with a no-op layer (incoming sw8: {sw8})"
        );
    }
}

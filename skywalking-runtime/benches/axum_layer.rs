//! What the axum layer adds to a request: the same router with and without the axum
//! `ServerLayer`, driven in-process as a tower service (`oneshot`, no network) on a
//! current-thread tokio runtime, in the three states an agent can be in, all in one run:
//!
//! - `off/*`: no agent was ever started (the layer must cost about nothing);
//! - `disabled/*`: an agent started with `SW_AGENT_DISABLE=true` (the same);
//! - `on/*`: a running agent whose reporter discards what it gets (segments are still
//!   encoded on the reporter thread);
//! - `unsampled/*`: the same agent with `SW_AGENT_SAMPLE=0`: the old fast path, nothing
//!   recorded;
//! - `keep/*`: `SW_AGENT_SAMPLE=0` with `SW_AGENT_KEEP_ERRORS=true`: every trace recorded
//!   and judged when its segment ends (these requests succeed: discarded).
//!
//! Run with `cargo bench -p skywalking-runtime --features axum --bench axum_layer`.
//!
//! Cases, each one `GET /users/{id}` handled by the same handler:
//! - `bare`: the router alone; `bare_sw8_header`: the same, given an `sw8` header;
//! - `noop_layer`: the router with a layer that does nothing (`tower`'s `MapRequest`
//!   with the identity): what axum itself charges for any layer, the floor of ours;
//! - `layer`: with the layer, no incoming header (with the agent on: a new, sampled
//!   trace each request: the entry span, its two tags on open and one on close, one
//!   segment);
//! - `layer_sw8`: with the layer and an incoming `sw8` header (parsed, continued);
//! - `layer_ignored`: with the layer, a path the ignore rules drop (no span, an
//!   unsampled context), against `bare_health` (the ignored route, bare);
//! - `bare_in_span`: the bare router inside `FutureExt::in_span`: the runtime's own cost
//!   of a new trace with one span;
//! - `old_layer`, `old_layer_sw8`: `layer` and `layer_sw8` through the generic tower
//!   layer, as the axum layer worked before it had a service of its own
//!   (`ServerLayer::__tower_reference`; its span names are written per request rather
//!   than made once per route, so the reporter thread encodes them by their bytes).
//!
//! For instruction counts that do not depend on the machine's load, one case runs
//! alone under callgrind (`state/case:iterations`; the total of the main thread, in the
//! file ending in `-01`, divided by the iterations is one request: the 1,000 warm-up
//! requests run outside `measured`):
//!
//! ```text
//! SW_BENCH_CALLGRIND=on/layer_sw8:5000 valgrind --tool=callgrind --separate-threads=yes \
//!     --fair-sched=yes --toggle-collect='*measured*' \
//!     target/release/deps/axum_layer-<hash> --bench
//! ```

//! Instructions per request on the calling thread (callgrind, 5,000 requests per case),
//! before this change (the tower path of commit c9c4d19) and after:
//!
//! | case | before | after |
//! |---|---:|---:|
//! | `bare` | 8,286 | 8,286 |
//! | `noop_layer` (axum's own cost of any layer) | 9,315 | 9,315 |
//! | `off/layer`, `disabled/layer` | 9,789 | 9,628 (+313 over `noop_layer`) |
//! | `on/layer` | 13,322 | 13,325 |
//! | `on/layer_sw8` (`bare_sw8_header` 9,985) | 23,408 | 22,166 |
//! | `unsampled/layer` / `keep/layer` | | 12,915 / 13,586 |
//!
//! Then (issue 15, second pass; `--fair-sched=yes` added to the command above, so that
//! the reporter thread runs and segments come back through the pool as they do
//! outside valgrind; the counts are of 6,000 requests, the 1,000 warm-up requests
//! included, so totals / 6,000 here): the reference of an incoming `sw8` moves into the
//! segment instead of being copied, its texts and the span's name and `url` are written
//! into strings pooled segments bring back (an unsampled span gives its name back),
//! and a request's context is reused (runs vary by about 150 with how many segments
//! the reporter has handed back):
//!
//! | case | before | after |
//! |---|---:|---:|
//! | `bare` | 6,905 | 6,905 |
//! | `on/layer` | 11,128 | 10,687 |
//! | `on/layer_sw8` | 18,899 | 17,587–17,739 |
//! | `unsampled/layer` | 10,771 | 10,215 |
//! | `keep/layer` | 11,328 | 10,736 |
//!
//! Then (issue 15, third pass, same command and counting; `incoming_context` is no
//! longer inlined, so `--toggle-collect='*incoming_context*'` measures the header work
//! alone): an incoming `sw8` is decoded in one walk over the value (fields found,
//! checked and decoded by one loop), its ids held inline (`RemoteId`: no `Arc<str>`
//! each, 0 allocations per continued request in steady state, see
//! `tests/alloc_axum.rs`), the four propagation headers read in one pass over the
//! request's headers (`Extractor::get_many`) instead of four hashed lookups; an axum
//! span's name (`METHOD route`) is made once per route and shared (`'static`), and the
//! default axum layer is zero-sized (axum boxes a clone of the layer per request: no
//! allocation now):
//!
//! | case | before | after |
//! |---|---:|---:|
//! | `bare` | 6,905 | 6,905 |
//! | `noop_layer` | 7,762 | 7,762 |
//! | `off/layer`, `disabled/layer` | 8,028 | 7,892 |
//! | `on/layer` | 10,665 | 10,330 |
//! | `on/layer_sw8` (`bare_sw8_header` 8,320) | 17,443 | 15,064 |
//! | `unsampled/layer` / `keep/layer` | 10,215 / 10,736 | 9,877 / 10,398 |
//! | `incoming_context`, Java `sw8` (old: its parts' sum in the old profile) | ~6,000 | ~3,700 |
//!
//! (Under valgrind the reporter thread falls behind, so some requests find no pooled
//! segment or spare string: about 450 instructions of `incoming_context` and more of
//! the totals are allocations that do not happen outside valgrind.)
//!
//! Wall time (short criterion runs, load 2.5 on 2 cores): `on/bare` 0.80 us,
//! `on/layer` 2.25 us, `keep/layer` (the same span recorded, judged and discarded on the
//! calling thread) 1.43 us, `unsampled/layer` 1.26 us. The instructions of `on/layer` and
//! `keep/layer` are within 2%: the difference is the segment buffer handed to the
//! reporter thread on the other core and coming back through the pool (cache-line
//! traffic on a busy 2-core VM), not work on the calling thread.
//!
//! Then (issue 15, fourth pass: the axum layer's own service). **Counting**: the totals
//! are of the requests `measured` ran, without the warm-up; the second and third passes
//! above divided them by 1,000 more, so their figures are 5/6 of a request's (`bare` is
//! 8,286 instructions, not 6,905). "Without allocator" leaves out `malloc` and `free`,
//! whose cost under valgrind moves by ±250 per request between runs with how far the
//! reporter thread has fallen behind; `keep/layer` (the span recorded, judged and
//! dropped on the calling thread) and `unsampled/layer` do not depend on it. 5,000
//! requests per case, before = commit 211db49:
//!
//! | case | before | after | without allocator, before → after |
//! |---|---:|---:|---:|
//! | `bare` / `noop_layer` | 8,286 / 9,315 | 8,284 / 9,315 | 5,844 / 6,486 |
//! | `on/layer` | 12,286 | 12,033 | 9,372 → 8,995 (over `noop_layer`: 2,886 → 2,509) |
//! | `on/layer_sw8` (`bare_sw8_header` 9,982) | 17,823 | 17,757 | 13,751 → 13,430 |
//! | `keep/layer` | 12,478 | 12,075 | 9,649 → 9,246 |
//! | `unsampled/layer` | 11,853 | 11,233 | 8,898 → 8,404 |
//! | `on/layer_ignored` (`bare_health` 6,475) | 8,863 | 8,778 | |
//! | `off/layer`, `disabled/layer` (`noop_layer` 9,315) | 9,471 | 9,458 | |
//!
//! What changed: the service reads the request where it is (the tower layer took it
//! apart and put it back together, two copies of its head); a route's span name is found
//! in a per-thread cache by the address of axum's `MatchedPath` (the text compared only
//! when axum made the path anew, for a nested router), and `METHOD (unmatched)` is a
//! constant; the method tag comes from `http::Method`; the route's future (320 bytes)
//! stays where it is on the first poll (`support::Served`, where `Traced` moved it out
//! of the call); an unsampled request's `url` string goes back to the thread's spares
//! (it was freed and allocated again per request). `tests/axum_reference.rs` checks
//! that both paths report the same segments.
//!
//! What the layer still adds over `noop_layer` on `on/layer` (about 2,500 instructions,
//! allocator aside): the ignore rules 533 (`ignore::is_ignored`: twelve
//! case-insensitive suffix comparisons, and a lock and an `Arc` clone to read the rules;
//! a check that the path's last segment has a `.` before comparing suffixes brings it
//! to 164); the span in `trace/` about 1,130 (three `add_tag` 229, opening 375, ending
//! and submitting the segment about 230, `incoming_context` with no header 110, spare
//! strings 80, dropping the call's state 64); the layer itself about 820 (`call` 274
//! with two extension lookups, `poll` 212, copies of the larger future 160, the `url`
//! 84, the status tag 47).
//!
//! Wall time (criterion, `--warm-up-time 1 --measurement-time 3`, three rounds
//! alternating the two binaries, load 1–2.8 on 2 cores): `unsampled/layer` 1.22 / 1.35
//! / 1.25 us before, 1.14 / 1.18 / 1.20 after (`bare` 0.78–0.86). `on/*` is bimodal on
//! this machine (1.3 or 1.8–2.4 us for `on/layer`, with where the reporter thread runs),
//! so only cases of one run compare: `layer` against `old_layer` 1.33 / 1.34, 1.84 /
//! 2.00, 2.36 / 2.24 us; `layer_sw8` against `old_layer_sw8` 1.80 / 1.95, 2.79 / 3.05,
//! 2.94 / 3.31 us. `disabled/layer` stays within the noise of `noop_layer` (±40 ns).

#![allow(missing_docs)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use criterion::{Criterion, criterion_group};
use http::Request;
use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::integrations::axum::ServerLayer;
use skywalking_runtime::{Agent, Config, FutureExt, Reporter};
use tower::ServiceExt;
use tower::util::MapRequestLayer;

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

/// The agent states, in the order they run (an agent can start again after it stops).
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Off,
    Disabled,
    On,
    Unsampled,
    Keep,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Off => "off",
            State::Disabled => "disabled",
            State::On => "on",
            State::Unsampled => "unsampled",
            State::Keep => "keep",
        }
    }

    fn start(self) -> Option<Agent> {
        let builder = Agent::builder()
            .config(Config::default())
            .service("bench")
            .trace_ignore_paths(["/health"])
            .reporter(Discard);
        let builder = match self {
            State::Off => return None,
            State::Disabled => builder.disabled(true),
            State::On => builder,
            State::Unsampled => builder.sample_rate(0.0),
            State::Keep => builder.sample_rate(0.0).keep_errors(true),
        };
        Some(builder.start().expect("agent"))
    }

    /// The cases worth running in this state.
    fn cases(self) -> &'static [&'static str] {
        match self {
            State::Off | State::Disabled => {
                &["bare", "noop_layer", "layer", "old_layer", "layer_sw8"]
            }
            State::Unsampled | State::Keep => &["bare", "layer", "bare_in_span"],
            State::On => &[
                "bare",
                "noop_layer",
                "layer",
                "old_layer",
                "bare_sw8_header",
                "layer_sw8",
                "old_layer_sw8",
                "bare_health",
                "layer_ignored",
                "bare_in_span",
            ],
        }
    }
}

/// The routers every case picks from.
struct Routers {
    bare: Router,
    noop: Router,
    traced: Router,
    old: Router,
}

impl Routers {
    fn new() -> Self {
        Routers {
            bare: routes(),
            noop: routes().layer(MapRequestLayer::new(|request: Request<Body>| request)),
            traced: routes().layer(ServerLayer::new()),
            old: routes().layer(ServerLayer::new().__tower_reference()),
        }
    }

    /// Serves one request of `case`.
    async fn serve(&self, case: &str) -> http::StatusCode {
        let (router, path, sw8) = match case {
            "bare" => (&self.bare, "/users/7", false),
            "noop_layer" => (&self.noop, "/users/7", false),
            "layer" => (&self.traced, "/users/7", false),
            "bare_sw8_header" => (&self.bare, "/users/7", true),
            "layer_sw8" => (&self.traced, "/users/7", true),
            "old_layer" => (&self.old, "/users/7", false),
            "old_layer_sw8" => (&self.old, "/users/7", true),
            "bare_health" => (&self.bare, "/health", false),
            "layer_ignored" => (&self.traced, "/health", false),
            "bare_in_span" => {
                let response = self
                    .bare
                    .clone()
                    .oneshot(request("/users/7", false))
                    .in_span("GET /users/{id}")
                    .await;
                return response.expect("infallible").status();
            }
            other => panic!("unknown case {other}"),
        };
        let response = router.clone().oneshot(request(path, sw8)).await;
        response.expect("infallible").status()
    }
}

fn axum_layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let routers = Routers::new();
    let mut group = c.benchmark_group("axum_layer");
    for state in [
        State::Off,
        State::Disabled,
        State::On,
        State::Unsampled,
        State::Keep,
    ] {
        let agent = state.start();
        for case in state.cases() {
            group.bench_function(format!("{}/{case}", state.name()), |b| {
                b.iter(|| black_box(rt.block_on(routers.serve(case))))
            });
        }
        drop(agent);
    }
    group.finish();
}

criterion_group!(benches, axum_layer);

/// Serves `iterations` requests of `case` (see the module docs).
#[inline(never)]
fn measured(rt: &tokio::runtime::Runtime, routers: &Routers, case: &str, iterations: u64) {
    for _ in 0..iterations {
        black_box(rt.block_on(routers.serve(case)));
    }
}

fn main() {
    if let Ok(spec) = std::env::var("SW_BENCH_CALLGRIND") {
        let (which, iterations) = spec.split_once(':').unwrap_or((&spec, "20000"));
        let (state, case) = which.split_once('/').unwrap_or(("on", which));
        let state = match state {
            "off" => State::Off,
            "disabled" => State::Disabled,
            "unsampled" => State::Unsampled,
            "keep" => State::Keep,
            _ => State::On,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let routers = Routers::new();
        let _agent = state.start();
        // Warm up the pools and the allocator outside the measurement.
        measured(&rt, &routers, case, 0);
        for _ in 0..1000 {
            black_box(rt.block_on(routers.serve(case)));
        }
        measured(&rt, &routers, case, iterations.parse().unwrap_or(20_000));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

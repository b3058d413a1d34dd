//! What the Prometheus metrics (feature `prometheus`) cost: on the calling thread, when
//! spans close, and on the reporter thread, where segments are aggregated.
//!
//! One request is an entry span (`GET /users/{id}`, layer Http), a local span and an
//! exit span (`SELECT`, peer `db:5432`, layer Database) inside it: a 3-span segment,
//! two spans of which the metrics count.
//!
//! Two ways to run it, each with the feature on and off:
//!
//! - criterion, calling thread only (short runs on a shared machine):
//!   `cargo bench -p skywalking-runtime --bench prometheus [--features prometheus]`
//! - a fixed workload for callgrind: with `SW_PROMETHEUS_BENCH_REQUESTS=N` the binary
//!   records N requests through `workload` (never inlined; in chunks of 500, flushed
//!   between chunks), and exits. Counting
//!   only inside `workload` gives the hot path's instructions; counting only inside
//!   `observe` (feature on) gives the reporter thread's aggregation:
//!
//! ```text
//! SW_PROMETHEUS_BENCH_REQUESTS=100000 valgrind --tool=callgrind --toggle-collect='*workload*' target/release/deps/prometheus-<hash>
//! SW_PROMETHEUS_BENCH_REQUESTS=100000 valgrind --tool=callgrind --toggle-collect='*prometheus*observe*' target/release/deps/prometheus-<hash>
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::{Agent, Reporter, Span, SpanLayer};

struct Discard;

impl Reporter for Discard {
    fn report(&mut self, segments: Vec<SegmentObject>) {
        black_box(segments);
    }
}

/// One request: entry, local, exit.
#[inline(always)]
fn request(id: u64) {
    let _entry =
        Span::entry("GET /users/{id}", &http::HeaderMap::new()).with_layer(SpanLayer::Http);
    let _local = Span::local("load_user");
    let _exit = Span::exit("SELECT", "db:5432").with_layer(SpanLayer::Database);
    black_box(id);
}

/// Requests per `workload` call in the callgrind mode.
const CHUNK: u64 = 500;

/// `n` requests; what callgrind counts for the calling thread.
#[inline(never)]
fn workload(n: u64) {
    for id in 0..n {
        request(id);
    }
}

fn agent() -> Agent {
    Agent::builder()
        .config(skywalking_runtime::Config::default())
        .service("bench")
        .max_send_queue(100_000)
        .flush_interval(Duration::from_millis(5))
        .reporter(Discard)
        .start()
        .expect("agent")
}

fn main() {
    if let Some(n) = std::env::var("SW_PROMETHEUS_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        let agent = agent();
        // Warm the pools and the metrics' series outside the counted function.
        for id in 0..1_000 {
            request(id);
        }
        assert!(agent.flush(Duration::from_secs(30)));
        // In chunks that the segment pool (1,024) covers, flushed between chunks: every
        // segment comes from the pool, so the count does not depend on how the reporter
        // thread was scheduled (under valgrind, threads take turns).
        for _ in 0..n.div_ceil(CHUNK) {
            workload(CHUNK);
            assert!(agent.flush(Duration::from_secs(60)));
        }
        let stats = skywalking_runtime::stats();
        println!(
            "{n} requests; feature prometheus {}; {} segments sent, {} dropped",
            if cfg!(feature = "prometheus") {
                "on"
            } else {
                "off"
            },
            stats.segments_sent,
            stats.segments_dropped
        );
        #[cfg(feature = "prometheus")]
        {
            let text = skywalking_runtime::prometheus::encode(
                skywalking_runtime::prometheus::Format::Text,
            )
            .unwrap_or_default();
            assert!(text.contains("endpoint=\"GET /users/{id}\""), "{text}");
        }
        return;
    }
    let agent = agent();
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let name = if cfg!(feature = "prometheus") {
        "request_3_spans/prometheus_on"
    } else {
        "request_3_spans/prometheus_off"
    };
    let mut id = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            id += 1;
            request(id);
        });
    });
    c.final_summary();
    drop(agent);
}

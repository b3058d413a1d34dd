//! A loop over the sampled span path, for `perf record` / `valgrind --tool=callgrind`.
//! `cargo run --release --example hot -- [iterations]`

mod support;

use std::hint::black_box;

use support::process_cpu_ms;

struct Discard;

impl skywalking_runtime::Reporter for Discard {
    fn report(&mut self, segments: Vec<skywalking_proto::v3::SegmentObject>) {
        black_box(segments);
    }
}

/// The timed loop (`--toggle-collect='*run_traces*'` in callgrind).
#[inline(never)]
fn run_traces(iterations: usize) {
    for _ in 0..iterations {
        let _root = skywalking_runtime::Span::local("root");
        for i in 0..100 {
            let _child = skywalking_runtime::Span::local("child");
            black_box(i);
        }
    }
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    // With SW_AGENT_COLLECTOR_BACKEND_SERVICES set (e.g. to the `sink` example), the
    // default gRPC reporter streams to it; otherwise a reporter that discards.
    let builder = skywalking_runtime::Agent::builder();
    let builder = if std::env::var_os("SW_AGENT_COLLECTOR_BACKEND_SERVICES").is_some() {
        builder
    } else {
        builder.reporter(Discard)
    };
    let agent = builder.start().expect("agent");
    let cpu_before = process_cpu_ms();
    let start = std::time::Instant::now();
    run_traces(iterations);
    let elapsed = start.elapsed();
    let spans = (iterations * 101) as f64;
    println!(
        "{:.1} ns per span on the calling thread",
        elapsed.as_nanos() as f64 / spans
    );
    // Whole-process CPU, the reporter's encoding and sending included.
    drop(agent);
    let cpu = process_cpu_ms() - cpu_before;
    let stats = skywalking_runtime::stats();
    println!(
        "{:.1} ns of process CPU per span (user+sys, until the queue is flushed); {} sent, {} dropped",
        cpu * 1e6 / spans,
        stats.segments_sent,
        stats.segments_dropped
    );
}

//! One-span traces (a `#[trace]` call that is its own trace), every segment reaching the
//! reporter, for `valgrind --tool=callgrind --separate-threads=yes`:
//! `cargo run --release --example one_span -- [traces]`

use std::hint::black_box;
use std::time::Duration;

struct Discard;

impl skywalking_runtime::Reporter for Discard {
    fn report(&mut self, segments: Vec<skywalking_proto::v3::SegmentObject>) {
        black_box(segments);
    }
}

#[skywalking_runtime::trace(name = "single")]
fn single(i: usize) -> usize {
    black_box(i)
}

/// The timed region: 512 one-span traces (`--toggle-collect='*run_chunk*'` in callgrind).
#[inline(never)]
fn run_chunk(first: usize) {
    for i in 0..512 {
        black_box(single(first + i));
    }
}

fn main() {
    let traces: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let agent = skywalking_runtime::Agent::builder()
        .reporter(Discard)
        .max_send_queue(
            std::env::var("ONE_SPAN_QUEUE")
                .ok()
                .and_then(|q| q.parse().ok())
                .unwrap_or(8_000),
        )
        .start()
        .expect("agent");
    let start = std::time::Instant::now();
    let mut timed = Duration::ZERO;
    for chunk in 0..traces.div_ceil(512) {
        let t = std::time::Instant::now();
        run_chunk(chunk * 512);
        timed += t.elapsed();
        agent.flush(Duration::from_secs(10));
    }
    let _ = start;
    println!(
        "{:.1} ns per one-span trace on the calling thread",
        timed.as_nanos() as f64 / traces as f64
    );
    drop(agent);
    let stats = skywalking_runtime::stats();
    println!(
        "{} sent, {} dropped",
        stats.segments_sent, stats.segments_dropped
    );
}

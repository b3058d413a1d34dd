//! A loop over the sampled span path, for `perf record` / `valgrind --tool=callgrind`.
//! `cargo run --release --example hot -- [iterations]`

use std::hint::black_box;

struct Discard;

impl skywalking_runtime::Reporter for Discard {
    fn report(&mut self, segments: Vec<skywalking_proto::v3::SegmentObject>) {
        black_box(segments);
    }
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let _agent = skywalking_runtime::Agent::builder()
        .reporter(Discard)
        .max_send_queue(100_000)
        .start()
        .expect("agent");
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        let _root = skywalking_runtime::Span::local("root");
        for i in 0..100 {
            let _child = skywalking_runtime::Span::local("child");
            black_box(i);
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{:.1} ns per span",
        elapsed.as_nanos() as f64 / (iterations * 101) as f64
    );
}

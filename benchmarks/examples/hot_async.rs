//! The sampled async span path, for `valgrind --tool=callgrind`: an instrumented root
//! future awaiting 100 instrumented children on a current-thread runtime, every segment
//! reaching the reporter (the queue holds them all).
//! `cargo run --release --example hot_async -- [iterations]`

use std::hint::black_box;

use skywalking_runtime::FutureExt;

struct Discard;

impl skywalking_runtime::Reporter for Discard {
    fn report(&mut self, segments: Vec<skywalking_proto::v3::SegmentObject>) {
        black_box(segments);
    }
}

async fn child(i: u32) -> u32 {
    black_box(i)
}

async fn root() {
    for i in 0..100 {
        black_box(child(i).in_span("child").await);
    }
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let agent = skywalking_runtime::Agent::builder()
        .reporter(Discard)
        .max_send_queue(iterations + 10)
        .start()
        .expect("agent");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        rt.block_on(root().in_span("root"));
    }
    let ns = start.elapsed().as_nanos() as f64 / (iterations * 101) as f64;
    println!("{ns:.1} ns per span");
    drop(agent);
    let stats = skywalking_runtime::stats();
    println!(
        "{} sent, {} dropped",
        stats.segments_sent, stats.segments_dropped
    );
}

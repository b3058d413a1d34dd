//! fastrace's equivalent of `hot`: 1 root + 100 local spans per iteration.

mod support;

use std::hint::black_box;

use support::process_cpu_ms;

struct Discard;

impl fastrace::collector::Reporter for Discard {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

fn main() {
    use fastrace::prelude::*;
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    fastrace::set_reporter(Discard, fastrace::collector::Config::default());
    let cpu_before = process_cpu_ms();
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        let root = Span::root("root", SpanContext::random());
        let _guard = root.set_local_parent();
        for i in 0..100 {
            let _child = LocalSpan::enter_with_local_parent("child");
            black_box(i);
        }
    }
    let elapsed = start.elapsed();
    let spans = (iterations * 101) as f64;
    println!(
        "{:.1} ns per span on the calling thread",
        elapsed.as_nanos() as f64 / spans
    );
    // Whole-process CPU, the collector thread included, once every span was reported.
    fastrace::flush();
    let cpu = process_cpu_ms() - cpu_before;
    println!(
        "{:.1} ns of process CPU per span (user+sys, until flushed)",
        cpu * 1e6 / spans
    );
}

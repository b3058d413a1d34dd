//! Kafka reporter throughput: spans recorded, encoded and produced to a real broker
//! (tansu, memory storage, on loopback) until the broker has acknowledged every one.
//!
//! Each iteration records `SEGMENTS` segments of `SPANS` spans (a root and its children)
//! on the bench thread, then `flush`es: the time covers creation, the reporter thread's
//! encoding, the produce requests and the broker's acknowledgements (`acks=all`). The
//! throughput is in spans per second. The broker shares the machine (on 2 cores the bench
//! thread, the reporter thread and tansu compete).
//!
//! ```text
//! SW_TANSU_BIN=/path/to/tansu cargo bench -p skywalking-runtime --features kafka --bench reporter_kafka
//! ```
//!
//! Skipped (with a message) when tansu is not installed.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skywalking_runtime::{Agent, Config, Span};
use skywalking_testkit::kafka::{OAP_PARTITIONS, Topics, create_topics};
use skywalking_testkit::servers::tansu;

const SEGMENTS: usize = 2_000;

fn record(spans: usize) {
    let _root = Span::local("root");
    for _ in 1..spans {
        let _child = Span::local("child");
    }
}

fn reporter_kafka(c: &mut Criterion) {
    let Some(broker) = tansu::start().expect("tansu starts") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(create_topics(
        &broker.bootstrap(),
        &Topics::new(None),
        OAP_PARTITIONS,
    ))
    .expect("topics");
    let config = Config::from_lookup(|name| match name {
        "SW_AGENT_PROTOCOL" => Some("kafka".to_owned()),
        "SW_KAFKA_BOOTSTRAP_SERVERS" => Some(broker.bootstrap()),
        _ => None,
    })
    .expect("config");
    let guard = Agent::builder()
        .config(config)
        .service("bench")
        .max_send_queue(50_000)
        .meter_active(false)
        .check_interval(Duration::from_secs(3600))
        .start()
        .expect("agent");

    let mut group = c.benchmark_group("reporter");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for spans in [10usize, 50] {
        group.throughput(Throughput::Elements((SEGMENTS * spans) as u64));
        group.bench_function(format!("kafka_{spans}_span_segments"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for _ in 0..SEGMENTS {
                        record(spans);
                    }
                    assert!(guard.flush(Duration::from_secs(60)));
                    total += start.elapsed();
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
    drop(broker);
}

criterion_group!(benches, reporter_kafka);
criterion_main!(benches);

//! The Kafka propagation helpers, per message, with an agent running (no broker needed):
//! the producer side writing the context into an rskafka record's headers, and the
//! consumer side continuing and referring to it from a polled batch.
//!
//! Run with `cargo bench -p skywalking-runtime --features rskafka --bench kafka_propagation`.

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skywalking_runtime::integrations::kafka::{self, Brokers, Subscription};
use skywalking_runtime::proto::v3::SegmentObject;
use skywalking_runtime::{Agent, Reporter};

/// Drops every segment: only the calling thread's cost is measured.
struct Discard;

impl Reporter for Discard {
    fn report(&mut self, segments: Vec<SegmentObject>) {
        drop(segments);
    }
}

/// One agent for the whole run.
fn agent() {
    static AGENT: OnceLock<Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        Agent::builder()
            .service("bench-svc")
            .instance("bench-1")
            .reporter(Discard)
            .start()
            .expect("agent starts")
    });
}

/// The headers of `n` messages, each sent from an exit span of its own.
fn traced_batch(brokers: &Brokers, n: usize) -> Vec<BTreeMap<String, Vec<u8>>> {
    (0..n)
        .map(|_| {
            let mut headers = BTreeMap::new();
            let span = kafka::producer_span(brokers, "orders");
            kafka::inject(&span, &mut headers);
            headers
        })
        .collect()
}

fn producer(c: &mut Criterion) {
    agent();
    let brokers = Brokers::parse("kafka-1:9092,kafka-2:9092");
    let mut group = c.benchmark_group("kafka_producer");
    group.throughput(Throughput::Elements(1));

    // The helper alone: `sw8`, `sw8-x` (with the send time) into a record's headers,
    // inside an open exit span.
    group.bench_function("inject_into_record_headers", |b| {
        let span = kafka::producer_span(&brokers, "orders");
        let mut headers: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        b.iter(|| {
            headers.clear();
            kafka::inject(black_box(&span), &mut headers);
            black_box(headers.len())
        });
    });

    // A message's whole producer-side cost when each send has its own exit span: open
    // the span (a one-span trace), inject, close it.
    group.bench_function("exit_span_and_inject", |b| {
        let mut headers: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        b.iter(|| {
            headers.clear();
            let span = kafka::producer_span(black_box(&brokers), "orders");
            kafka::inject(&span, &mut headers);
            drop(span);
            black_box(headers.len())
        });
    });
    group.finish();
}

fn consumer(c: &mut Criterion) {
    agent();
    let brokers = Brokers::parse("kafka-1:9092");
    let billing = Subscription::new(brokers.clone(), "orders", "billing");
    let mut group = c.benchmark_group("kafka_consumer");

    let one = traced_batch(&brokers, 1);
    group.throughput(Throughput::Elements(1));
    // A batch of one traced message: decode its `sw8`, open the entry span continuing
    // its trace, close it.
    group.bench_function("batch_of_1", |b| {
        b.iter(|| kafka::consume_batch(&billing, black_box(&one), || ()));
    });

    // 100 traced messages from 100 producer spans: one entry span, 100 references.
    let hundred = traced_batch(&brokers, 100);
    group.throughput(Throughput::Elements(100));
    group.bench_function("batch_of_100", |b| {
        b.iter(|| kafka::consume_batch(&billing, black_box(&hundred), || ()));
    });

    // 100 messages without headers: one entry span of a new trace.
    let plain: Vec<BTreeMap<String, Vec<u8>>> = vec![BTreeMap::new(); 100];
    group.bench_function("batch_of_100_untraced", |b| {
        b.iter(|| kafka::consume_batch(&billing, black_box(&plain), || ()));
    });
    group.finish();
}

criterion_group!(benches, producer, consumer);
criterion_main!(benches);

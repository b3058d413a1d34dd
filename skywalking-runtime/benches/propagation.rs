//! Header codec benchmarks: `sw8` encode and decode, `traceparent` decode.
//!
//! Run with `cargo bench -p skywalking-runtime --bench propagation`.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use skywalking_runtime::propagation::{Sw8, Sw8Ref, TraceParent};

/// What the Java agent sends: `<uuid>.<thread>.<time+seq>` ids, `<uuid>@<ip>` instance.
const JAVA_SW8: &str = "1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3\
    -b3JkZXItc2VydmljZQ==\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy\
    -e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw";

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn sw8(c: &mut Criterion) {
    let view = Sw8Ref {
        sample: true,
        trace_id: "ddd92f52207c468e9cd03ddd107cd530.69.16181331190470001",
        parent_segment_id: "ddd92f52207c468e9cd03ddd107cd530.69.16181331190470002",
        parent_span_id: 3,
        parent_service: "order-service",
        parent_service_instance: "ddd92f52207c468e9cd03ddd107cd530@10.0.0.12",
        parent_endpoint: "{GET}/orders/{id}",
        address_used_at_client: "payment:8080",
    };
    assert_eq!(view.encode(), JAVA_SW8);

    c.bench_function("sw8_encode", |b| b.iter(|| black_box(&view).encode()));
    let mut buf = String::with_capacity(512);
    c.bench_function("sw8_encode_into_reused_buffer", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&view).encode_into(&mut buf);
            black_box(buf.len())
        });
    });
    c.bench_function("sw8_decode", |b| {
        b.iter(|| Sw8::decode(black_box(JAVA_SW8)));
    });
    c.bench_function("sw8_decode_reject_bad_span_id", |b| {
        let bad = JAVA_SW8.replace("-3-", "-x-");
        b.iter(|| Sw8::decode(black_box(&bad)));
    });
}

fn traceparent(c: &mut Criterion) {
    c.bench_function("traceparent_decode", |b| {
        b.iter(|| TraceParent::decode(black_box(TRACEPARENT)));
    });
    let tp = TraceParent::decode(TRACEPARENT).expect("valid");
    c.bench_function("traceparent_encode", |b| b.iter(|| black_box(&tp).encode()));
}

criterion_group!(benches, sw8, traceparent);
criterion_main!(benches);

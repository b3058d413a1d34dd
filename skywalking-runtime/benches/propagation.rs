//! Header codec benchmarks: `sw8` encode and decode, `traceparent` decode.
//!
//! Run with `cargo bench -p skywalking-runtime --bench propagation`.
//!
//! `sw8` decode of a Java agent's header (248 bytes). Before the borrowed parser,
//! `Sw8::decode` ran the `base64` crate's engine per field into six owned strings;
//! now `Sw8Header::parse` checks everything (Base64, UTF-8, every cap) without
//! allocating, and `Sw8::decode` is that plus one exactly sized `String` per field.
//! Short criterion runs (`--warm-up-time 1 --measurement-time 3`) one after the other
//! on the shared 2-core VM at load 4.3 (so both inflated alike): before, `sw8_decode`
//! 764 ns (476 ns on a quieter machine); after, `sw8_parse_borrowed` 236 ns (0.31x),
//! `sw8_parse_and_read_ids` 326 ns, the owned `sw8_decode` 557 ns (0.73x).
//! Instructions (callgrind, see `measured` below): `sw8_parse_borrowed` 2,356,
//! `sw8_parse_and_read_ids` 3,437; the owned decode 6,291 against 2,676 before (the
//! engine validated while decoding; the owned path now scans first, then decodes; it is
//! still faster in time).

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use skywalking_runtime::propagation::{Sw8, Sw8Header, Sw8Ref, TraceParent};

/// What the Java agent sends: `<uuid>.<thread>.<time+seq>` ids, `<uuid>@<ip>` instance.
const JAVA_SW8: &str = "1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3\
    -b3JkZXItc2VydmljZQ==\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy\
    -e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw";

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn parse_and_read_ids() -> usize {
    let Ok(header) = Sw8Header::parse(black_box(JAVA_SW8)) else {
        return 0;
    };
    header.trace_id().with_decoded(|t| black_box(t).len())
        + header
            .parent_segment_id()
            .with_decoded(|s| black_box(s).len())
}

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
    // Owned: every check, then six `String`s.
    c.bench_function("sw8_decode", |b| {
        b.iter(|| Sw8::decode(black_box(JAVA_SW8)));
    });
    // Borrowed: every check (Base64, UTF-8, caps), no allocation.
    c.bench_function("sw8_parse_borrowed", |b| {
        b.iter(|| Sw8Header::parse(black_box(JAVA_SW8)).map(|h| h.parent_span_id()));
    });
    // What a segment keeps of it: the two ids decoded on the stack.
    c.bench_function("sw8_parse_and_read_ids", |b| b.iter(parse_and_read_ids));
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

/// Runs `iterations` of one decode case and nothing else, for instruction counts that do
/// not depend on the machine's load:
///
/// ```text
/// SW_BENCH_CALLGRIND=sw8_decode:100000 valgrind --tool=callgrind \
///     --toggle-collect='*measured*' target/release/deps/propagation-<hash> --bench
/// ```
///
/// The total (`I refs`) divided by the iterations is the cost of one decode.
#[inline(never)]
fn measured(case: &str, iterations: u64) {
    for _ in 0..iterations {
        match case {
            "sw8_decode" => drop(black_box(Sw8::decode(black_box(JAVA_SW8)))),
            "sw8_parse_borrowed" => drop(black_box(Sw8Header::parse(black_box(JAVA_SW8)))),
            "sw8_parse_and_read_ids" => drop(black_box(parse_and_read_ids())),
            _ => return,
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("SW_BENCH_CALLGRIND") {
        let (case, iterations) = spec.split_once(':').unwrap_or((&spec, "100000"));
        measured(case, iterations.parse().unwrap_or(100_000));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

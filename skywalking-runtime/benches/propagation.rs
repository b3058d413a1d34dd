//! Header codec benchmarks: `sw8` encode and decode, `traceparent` decode.
//!
//! Run with `cargo bench -p skywalking-runtime --bench propagation`.
//!
//! `sw8` decode of a Java agent's header (248 bytes), the old and the new decoder in
//! one run:
//!
//! - `sw8_parse_then_to_sw8` is the decoder before issue 15's third pass (and what
//!   `Sw8::decode` was): `Sw8Header::parse` splits the value at its `-`, checks every
//!   field (a table lookup per symbol, no output), then `to_sw8` decodes each field
//!   again into a `String`.
//! - `sw8_decode` is `Sw8::decode` now: one walk over the value finds, checks and
//!   decodes each field in the same loop (one OR of four table lookups per group of
//!   four symbols gives the three bytes and the validity at once, and a `-` ends the
//!   field, so there is no separate search for the separators), then copies it into its
//!   `String`.
//! - `sw8_parse_and_decode_into_reused` (old) and `sw8_decode_from_reused` (new,
//!   `Sw8::decode_from`) are the same into strings reused from the last decode, no
//!   allocation: what a server continuing a trace pays (the agent decodes the ids
//!   inline and the texts into pooled strings, the same work).
//!
//! Instructions per decode (callgrind, see `measured` below), one binary:
//!
//! | case | instructions |
//! |---|---:|
//! | `sw8_parse_borrowed` (checks only, unchanged) | 2,416 |
//! | `sw8_parse_then_to_sw8` (old owned) | 6,551 |
//! | `sw8_decode` (new owned) | 3,678 |
//! | `sw8_parse_and_decode_into_reused` (old, no allocation) | 5,539 |
//! | `sw8_decode_from_reused` (new, no allocation) | 2,463 |
//!
//! Of the 2,463: the Base64 loop about 1,200 (61 groups of 4 symbols, 19 instructions
//! each, the check for the end of the field included; unrolling it to two or four
//! groups per step, with wider stores, made LLVM's code longer, not shorter), the end
//! of each field (its last group, padding, `-` and length checks) about 75 per field,
//! and one `str::from_utf8` over the six texts decoded side by side 185 (it was 520 as
//! six calls on short texts: the call and its byte-at-a-time head and tail cost more
//! than the bytes). Before the texts were decoded side by side, `sw8_decode_from_reused`
//! was 2,992 and `sw8_decode` 4,171.

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

/// The old way into reused strings: check everything, then decode each field again.
fn old_decode_into(value: &str, out: &mut Sw8) -> bool {
    let Ok(header) = Sw8Header::parse(value) else {
        return false;
    };
    for (field, text) in [
        (header.trace_id(), &mut out.trace_id),
        (header.parent_segment_id(), &mut out.parent_segment_id),
        (header.parent_service(), &mut out.parent_service),
        (
            header.parent_service_instance(),
            &mut out.parent_service_instance,
        ),
        (header.parent_endpoint(), &mut out.parent_endpoint),
        (
            header.address_used_at_client(),
            &mut out.address_used_at_client,
        ),
    ] {
        text.clear();
        field.decode_into(text);
    }
    out.sample = header.sample();
    out.parent_span_id = header.parent_span_id();
    true
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
    // Owned: every check while decoding into six `String`s (one pass).
    c.bench_function("sw8_decode", |b| {
        b.iter(|| Sw8::decode(black_box(JAVA_SW8)));
    });
    // The old owned decoder: every check, then six `String`s (two passes).
    c.bench_function("sw8_parse_then_to_sw8", |b| {
        b.iter(|| Sw8Header::parse(black_box(JAVA_SW8)).map(|h| h.to_sw8()));
    });
    // Into reused strings: no allocation. New (one pass), then old (two passes).
    let mut reused = Sw8::decode(JAVA_SW8).expect("valid");
    c.bench_function("sw8_decode_from_reused", |b| {
        b.iter(|| black_box(&mut reused).decode_from(black_box(JAVA_SW8)));
    });
    c.bench_function("sw8_parse_and_decode_into_reused", |b| {
        b.iter(|| old_decode_into(black_box(JAVA_SW8), black_box(&mut reused)));
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
fn measured(case: &str, iterations: u64, reused: &mut Sw8) {
    for _ in 0..iterations {
        match case {
            "sw8_decode" => drop(black_box(Sw8::decode(black_box(JAVA_SW8)))),
            "sw8_parse_then_to_sw8" => drop(black_box(
                Sw8Header::parse(black_box(JAVA_SW8)).map(|h| h.to_sw8()),
            )),
            "sw8_decode_from_reused" => drop(black_box(reused.decode_from(black_box(JAVA_SW8)))),
            "sw8_parse_and_decode_into_reused" => {
                black_box(old_decode_into(black_box(JAVA_SW8), reused));
            }
            "sw8_parse_borrowed" => drop(black_box(Sw8Header::parse(black_box(JAVA_SW8)))),
            "sw8_parse_and_read_ids" => drop(black_box(parse_and_read_ids())),
            _ => return,
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("SW_BENCH_CALLGRIND") {
        let (case, iterations) = spec.split_once(':').unwrap_or((&spec, "100000"));
        let mut reused = Sw8::decode(JAVA_SW8).expect("valid");
        measured(case, iterations.parse().unwrap_or(100_000), &mut reused);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

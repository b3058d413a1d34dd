//! Open+close of spans on the calling thread: this agent vs fastrace, tracing and the
//! official `skywalking` crate, in one run. Each iteration is one trace of 1 root and
//! 100 child spans (the DESIGN.md anchor shape); divide by 101 for ns per span.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

const CHILDREN: usize = 100;

struct Discard;

impl skywalking_runtime::Reporter for Discard {
    fn report(&mut self, segments: Vec<skywalking_proto::v3::SegmentObject>) {
        black_box(segments);
    }
}

struct FastraceDiscard;

impl fastrace::collector::Reporter for FastraceDiscard {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

#[inline(never)]
fn work(i: usize) -> usize {
    black_box(i)
}

fn ours_sync() {
    let _root = skywalking_runtime::Span::local("root");
    for i in 0..CHILDREN {
        let _child = skywalking_runtime::Span::local("child");
        work(i);
    }
}

fn fastrace_sync() {
    use fastrace::prelude::*;
    let root = Span::root("root", SpanContext::random());
    let _guard = root.set_local_parent();
    for i in 0..CHILDREN {
        let _child = LocalSpan::enter_with_local_parent("child");
        work(i);
    }
}

fn tracing_sync() {
    let _root = tracing::info_span!("root").entered();
    for i in 0..CHILDREN {
        let _child = tracing::info_span!("child").entered();
        work(i);
    }
}

fn skywalking_sync(tracer: &skywalking::trace::tracer::Tracer) {
    let mut ctx = tracer.create_trace_context();
    let _root = ctx.create_entry_span("root");
    for i in 0..CHILDREN {
        let _child = ctx.create_local_span("child");
        work(i);
    }
}

fn plain() {
    for i in 0..CHILDREN + 1 {
        work(i);
    }
}

/// How many of the segments the run finished reached the reporter: the loop makes spans
/// faster than the reporter thread encodes them, and the bounded queue drops the rest.
fn report_drops(what: &str, before: skywalking_runtime::Stats) {
    let after = skywalking_runtime::stats();
    let queued = after.segments_queued - before.segments_queued;
    let dropped = after.segments_dropped - before.segments_dropped;
    eprintln!(
        "skywalking_rust_auto {what}: {queued} segments queued for the reporter, {dropped} dropped at the full queue ({:.0}%)",
        100.0 * dropped as f64 / (queued + dropped).max(1) as f64
    );
}

fn sync_spans(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_1_root_100_children");
    group.measurement_time(Duration::from_secs(4));

    group.bench_function("plain_calls", |b| b.iter(plain));

    // No agent: every span is a no-op.
    group.bench_function("skywalking_rust_auto/no_agent", |b| b.iter(ours_sync));

    {
        let agent = skywalking_runtime::Agent::builder()
            .service("bench")
            .instance("bench-1")
            .reporter(Discard)
            .start()
            .expect("agent");
        let before = skywalking_runtime::stats();
        group.bench_function("skywalking_rust_auto/sampled", |b| b.iter(ours_sync));
        drop(agent);
        report_drops("sync", before);
    }
    {
        let agent = skywalking_runtime::Agent::builder()
            .service("bench")
            .instance("bench-1")
            .sample_rate(0.0)
            .reporter(Discard)
            .start()
            .expect("agent");
        group.bench_function("skywalking_rust_auto/unsampled", |b| b.iter(ours_sync));
        drop(agent);
    }

    fastrace::set_reporter(FastraceDiscard, fastrace::collector::Config::default());
    group.bench_function("fastrace/sampled", |b| b.iter(fastrace_sync));

    // The global default, as an application installs it (a scoped default is slower).
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("no other global subscriber");
    group.bench_function("tracing/registry", |b| b.iter(tracing_sync));

    let tracer = skywalking::trace::tracer::Tracer::new("bench", "bench-1", ());
    group.bench_function("skywalking_0.10/noop_reporter", |b| {
        b.iter(|| skywalking_sync(&tracer))
    });
    group.finish();
}

async fn ours_leaf(i: usize) -> usize {
    use skywalking_runtime::FutureExt;
    async move { work(i) }.in_span("child").await
}

async fn ours_async() {
    use skywalking_runtime::FutureExt;
    async {
        for i in 0..CHILDREN {
            ours_leaf(i).await;
        }
    }
    .in_span("root")
    .await
}

async fn fastrace_leaf(i: usize) -> usize {
    use fastrace::prelude::*;
    async move { work(i) }
        .in_span(Span::enter_with_local_parent("child"))
        .await
}

async fn fastrace_async() {
    use fastrace::prelude::*;
    let root = Span::root("root", SpanContext::random());
    async {
        for i in 0..CHILDREN {
            fastrace_leaf(i).await;
        }
    }
    .in_span(root)
    .await
}

fn async_spans(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("async_1_root_100_children");
    group.measurement_time(Duration::from_secs(4));
    {
        let agent = skywalking_runtime::Agent::builder()
            .service("bench")
            .instance("bench-1")
            .reporter(Discard)
            .start()
            .expect("agent");
        let before = skywalking_runtime::stats();
        group.bench_function("skywalking_rust_auto/sampled", |b| {
            b.iter(|| rt.block_on(ours_async()))
        });
        drop(agent);
        report_drops("async", before);
    }
    fastrace::set_reporter(FastraceDiscard, fastrace::collector::Config::default());
    group.bench_function("fastrace/sampled", |b| b.iter(|| rt.block_on(fastrace_async())));
    group.finish();
}

criterion_group!(benches, sync_spans, async_spans);
criterion_main!(benches);

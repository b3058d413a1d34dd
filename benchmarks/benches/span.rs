//! Open+close of spans on the calling thread: this agent vs fastrace, `tracing` and the
//! official `skywalking` crate, in one run, each peer in its best regime: its collector
//! keeps up and every span reaches its sink, with the settling (waiting for the reporter)
//! outside the timed region.
//!
//! Each iteration is one trace. Shapes: 1 root + 100 children (the DESIGN.md anchor;
//! divide by 101 for ns per span), the same with futures, and a trace of one span. A
//! last group times one clock reading, which every span makes twice.
//!
//! How "best regime" is done: `iter_custom` times chunks of at most [`CHUNK`] traces
//! (fewer than the agent's queue and segment pool hold), and after each chunk, untimed, waits until the
//! reporter has taken every segment (ours: `Agent::flush`; fastrace: `fastrace::flush`).
//! At the end the bench prints how many segments were queued and dropped: a run with
//! drops is not a best-regime run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const CHILDREN: usize = 100;
/// Traces timed between two settles: below the queue bound set in [`ours_agent`], and
/// below the agent's pool of 1,024 segment records, so that, as in a service whose
/// reporter keeps up, every segment reuses a pooled record (a longer chunk would time
/// fresh allocations once the pool is empty, which no steady state does).
const CHUNK: u64 = 512;

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

#[skywalking_runtime::trace(name = "single")]
fn ours_single() -> usize {
    work(1)
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

fn fastrace_single() {
    use fastrace::prelude::*;
    let _root = Span::root("single", SpanContext::random());
    work(1);
}

fn tracing_sync() {
    let _root = tracing::info_span!("root").entered();
    for i in 0..CHILDREN {
        let _child = tracing::info_span!("child").entered();
        work(i);
    }
}

fn tracing_single() {
    let _span = tracing::info_span!("single").entered();
    work(1);
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

fn ours_agent(sample_rate: f64) -> skywalking_runtime::Agent {
    skywalking_runtime::Agent::builder()
        .service("bench")
        .instance("bench-1")
        .sample_rate(sample_rate)
        .max_send_queue(4 * CHUNK as usize)
        .reporter(Discard)
        .start()
        .expect("agent")
}

/// Times `iters` calls of `f` in chunks, calling `settle` (untimed) after each chunk.
fn timed(iters: u64, mut f: impl FnMut(), mut settle: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        total += start.elapsed();
        settle();
        left -= n;
    }
    total
}

fn settle_ours(agent: &skywalking_runtime::Agent) -> impl FnMut() + '_ {
    || {
        agent.flush(Duration::from_secs(10));
    }
}

fn settle_fastrace() {
    fastrace::flush();
}

/// Prints how many segments reached the reporter since `before`; any drop means the run
/// was not in the best regime.
fn report_drops(what: &str, before: skywalking_runtime::Stats) {
    let after = skywalking_runtime::stats();
    let queued = after.segments_queued - before.segments_queued;
    let dropped = after.segments_dropped - before.segments_dropped;
    eprintln!("skywalking_rust_auto {what}: {queued} segments queued, {dropped} dropped");
}

fn sync_spans(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_1_root_100_children");
    group.measurement_time(Duration::from_secs(4));

    group.bench_function("plain_calls", |b| b.iter(plain));

    // No agent: every span is a no-op.
    group.bench_function("skywalking_rust_auto/no_agent", |b| b.iter(ours_sync));

    {
        let agent = ours_agent(1.0);
        let before = skywalking_runtime::stats();
        group.bench_function("skywalking_rust_auto/sampled", |b| {
            b.iter_custom(|iters| timed(iters, ours_sync, settle_ours(&agent)))
        });
        report_drops("sync", before);
        drop(agent);
    }
    {
        let agent = ours_agent(0.0);
        group.bench_function("skywalking_rust_auto/unsampled", |b| b.iter(ours_sync));
        drop(agent);
    }

    fastrace::set_reporter(FastraceDiscard, fastrace::collector::Config::default());
    group.bench_function("fastrace/sampled", |b| {
        b.iter_custom(|iters| timed(iters, fastrace_sync, settle_fastrace))
    });

    // The global default, as an application installs it (a scoped default is slower).
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("no other global subscriber");
    group.bench_function("tracing/registry", |b| b.iter(tracing_sync));

    let tracer = skywalking::trace::tracer::Tracer::new("bench", "bench-1", ());
    group.bench_function("skywalking_0.10/noop_reporter", |b| {
        b.iter(|| skywalking_sync(&tracer))
    });
    group.finish();

    // A trace of one span: an instrumented call that is its own trace.
    let mut group = c.benchmark_group("trace_of_one_span");
    group.measurement_time(Duration::from_secs(4));
    {
        let agent = ours_agent(1.0);
        let before = skywalking_runtime::stats();
        group.bench_function("skywalking_rust_auto/sampled", |b| {
            b.iter_custom(|iters| {
                timed(
                    iters,
                    || {
                        black_box(ours_single());
                    },
                    settle_ours(&agent),
                )
            })
        });
        report_drops("one-span traces", before);
        drop(agent);
    }
    group.bench_function("fastrace/sampled", |b| {
        b.iter_custom(|iters| timed(iters, fastrace_single, settle_fastrace))
    });
    group.bench_function("tracing/registry", |b| b.iter(tracing_single));
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

async fn tracing_leaf(i: usize) -> usize {
    use tracing::Instrument;
    async move { work(i) }
        .instrument(tracing::info_span!("child"))
        .await
}

async fn tracing_async() {
    use tracing::Instrument;
    async {
        for i in 0..CHILDREN {
            tracing_leaf(i).await;
        }
    }
    .instrument(tracing::info_span!("root"))
    .await
}

fn async_spans(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("async_1_root_100_children");
    group.measurement_time(Duration::from_secs(4));
    {
        let agent = ours_agent(1.0);
        let before = skywalking_runtime::stats();
        group.bench_function("skywalking_rust_auto/sampled", |b| {
            b.iter_custom(|iters| timed(iters, || rt.block_on(ours_async()), settle_ours(&agent)))
        });
        report_drops("async", before);
        drop(agent);
    }
    group.bench_function("fastrace/sampled", |b| {
        b.iter_custom(|iters| timed(iters, || rt.block_on(fastrace_async()), settle_fastrace))
    });
    // The global `tracing` default was installed by `sync_spans`.
    group.bench_function("tracing/registry", |b| {
        b.iter(|| rt.block_on(tracing_async()))
    });
    group.finish();
}

/// What one clock reading costs: every span reads the clock twice (open and close), for
/// ours and for fastrace, so two readings bound how low a span can go on this CPU.
fn clock_reads(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock_read");
    group.measurement_time(Duration::from_secs(2));
    // Ours: `RDTSC` itself, as `clock::now_raw` executes it once quanta chose the counter.
    #[cfg(target_arch = "x86_64")]
    group.bench_function("skywalking_rust_auto/rdtsc", |b| {
        // SAFETY: `RDTSC` exists on every x86_64 CPU and only reads a register.
        #[allow(unsafe_code)]
        b.iter(|| unsafe { core::arch::x86_64::_rdtsc() })
    });
    group.bench_function("fastrace/fastant", |b| b.iter(fastant::Instant::now));
    group.bench_function("std/Instant", |b| b.iter(Instant::now));
    group.finish();
}

criterion_group!(benches, sync_spans, async_spans, clock_reads);
criterion_main!(benches);

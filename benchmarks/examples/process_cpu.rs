//! Whole-process CPU per sent span: this agent through its real gRPC path (the wire
//! encoder and one `collect` stream per batch) against fastrace 0.7, each in its best
//! regime (every span reaches its sink, nothing dropped, the final flush counted).
//!
//! One peer per process (both keep global state), so `process_cpu.sh` runs the peers
//! alternately and reports min/median:
//!
//! ```text
//! process_cpu <peer> <children> <traces> [chunk] [sink address]
//! ```
//!
//! - `ours`: the agent with its default gRPC reporter, streaming to the collector at
//!   `sink address` (default 127.0.0.1:11899: the `raw_sink` or `sink` example, another
//!   process, whose CPU is not this process's).
//! - `fastrace-count`: fastrace with a reporter that counts its `SpanRecord`s and drops
//!   them (what issue 15 measured; it sends nothing anywhere).
//! - `fastrace-proto`: fastrace with a reporter that turns each trace's records into a
//!   SkyWalking `SegmentObject` and encodes it with prost (the least a fastrace user
//!   sending to SkyWalking does), then drops the bytes.
//! - `fastrace-grpc`: the same, and streams the segments to `sink` over one `collect`
//!   stream per report, as our reporter does: the same job end to end.
//!
//! Workload: `traces` traces of 1 root + `children` local spans on the main thread, in
//! chunks of `chunk` traces (default 512); after each chunk the main thread waits, idle
//! (sleeping 100 µs at a time), until the peer's reporter has delivered every span so
//! far: each reporter does its work on its own schedule, as in a service, but never
//! falls behind (ours wakes when a batch of 512 segments is queued, or every 20 ms;
//! fastrace's collector every 10 ms, `report_interval`, or when its channel is half
//! full). All of it, the last chunk's delivery included, is measured. Waiting instead of
//! forcing a flush spares fastrace a thread spawn per `fastrace::flush()`, and keeps
//! every chunk below our 1,024-record segment pool and fastrace's 10,240-command
//! channel (past it, fastrace parks commands in a thread-local overflow list that only
//! the thread's next span drains). A warm-up of 2,048 traces (connection, pools) comes
//! first, unmeasured.
//!
//! CPU comes from the kernel's per-process and per-thread CPU clocks
//! (`CLOCK_PROCESS_CPUTIME_ID`, and each thread's clock from its tid), in ns. The main
//! thread's CPU counts inside the trace loops only (its idle waiting, which polls, is
//! printed apart as `main_waiting`); every other thread's counts in full. The output is
//! one line of `key=value` pairs: `process` (main loops + rest) per span, `main`, `rest`
//! (the reporter, fastrace's collector and flush threads), the reporter thread alone,
//! the process's and the reporter thread's kernel time (`sys`, `reporter_sys`: sockets;
//! `reporter_sys` has a 10 ms resolution), and the counts proving every span arrived.

mod support;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use skywalking_proto::v3;

#[inline(never)]
fn work(i: usize) -> usize {
    black_box(i)
}

fn ours_trace(children: usize) {
    let _root = skywalking_runtime::Span::local("root");
    for i in 0..children {
        let _child = skywalking_runtime::Span::local("child");
        work(i);
    }
}

fn fastrace_trace(children: usize) {
    use fastrace::prelude::*;
    let root = Span::root("root", SpanContext::random());
    let _guard = root.set_local_parent();
    for i in 0..children {
        let _child = LocalSpan::enter_with_local_parent("child");
        work(i);
    }
}

/// The main thread's CPU spent inside trace loops (not in [`settle`]), in ns.
static LOOP_CPU: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs `trace` `n` times, calling `settle` with the chunk's size after every `chunk`.
/// Adds the main thread's CPU inside the loops to [`LOOP_CPU`].
fn chunks(n: usize, chunk: usize, mut trace: impl FnMut(), mut settle: impl FnMut(usize)) {
    let mut left = n;
    while left > 0 {
        let c = left.min(chunk.max(1));
        let start = clock_ns(CLOCK_THREAD_CPUTIME_ID).unwrap_or(0);
        for _ in 0..c {
            trace();
        }
        let end = clock_ns(CLOCK_THREAD_CPUTIME_ID).unwrap_or(0);
        LOOP_CPU.fetch_add(end - start, std::sync::atomic::Ordering::Relaxed);
        settle(c);
        left -= c;
    }
}

/// Waits, idle, until `done`; gives up after a minute (the run then reports the
/// shortfall and fails).
fn settle(done: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() && Instant::now() < give_up {
        std::thread::sleep(Duration::from_micros(100));
    }
}

// --- CPU clocks (Linux) ---

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    rest: [i64; 14],
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

/// System (kernel) CPU time of this process so far, in ns (`getrusage`, µs resolution).
fn process_sys_ns() -> u64 {
    let mut usage = Rusage {
        utime: [0; 2],
        stime: [0; 2],
        rest: [0; 14],
    };
    // SAFETY: `usage` is a valid, writable `struct rusage` (x86_64 Linux layout).
    if unsafe { getrusage(0, &mut usage) } != 0 {
        return 0;
    }
    usage.stime[0] as u64 * 1_000_000_000 + usage.stime[1] as u64 * 1_000
}

const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

fn clock_ns(clock: i32) -> Option<u64> {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; an invalid clock id only returns -1.
    let rc = unsafe { clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// The CPU clock of thread `tid` of this process (the kernel's `MAKE_THREAD_CPUCLOCK(tid,
/// CPUCLOCK_SCHED)`).
fn thread_clock(tid: i32) -> i32 {
    ((!tid) << 3) | 4 | 2
}

/// System CPU ticks (1/100 s) of thread `tid` so far, from /proc.
fn thread_sys_ticks(tid: i32) -> u64 {
    let fields = support::stat_fields(&format!("/proc/self/task/{tid}/stat"));
    fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// (name, tid, CPU ns) of every thread of this process.
fn threads() -> Vec<(String, i32, u64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if let Some(ns) = clock_ns(thread_clock(tid)) {
            out.push((name.trim().to_owned(), tid, ns));
        }
    }
    out
}

fn gettid() -> i32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

struct Snapshot {
    process: u64,
    sys: u64,
    /// System ticks of each thread, by tid.
    thread_sys: Vec<(i32, u64)>,
    threads: Vec<(String, i32, u64)>,
    wall: Instant,
}

fn snapshot() -> Snapshot {
    Snapshot {
        wall: Instant::now(),
        threads: threads(),
        thread_sys: std::fs::read_dir("/proc/self/task")
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                    .map(|tid| (tid, thread_sys_ticks(tid)))
                    .collect()
            })
            .unwrap_or_default(),
        process: clock_ns(CLOCK_PROCESS_CPUTIME_ID).unwrap_or(0),
        sys: process_sys_ns(),
    }
}

/// CPU ns spent between the two snapshots by threads whose name satisfies `pick` (or by
/// the thread `tid`).
fn thread_delta(a: &Snapshot, b: &Snapshot, pick: impl Fn(&str, i32) -> bool) -> u64 {
    b.threads
        .iter()
        .filter(|(name, tid, _)| pick(name, *tid))
        .map(|(_, tid, end)| {
            let start = a.threads.iter().find(|t| t.1 == *tid).map_or(0, |t| t.2);
            end.saturating_sub(start)
        })
        .sum()
}

// --- fastrace reporters ---

#[derive(Clone, Copy, PartialEq)]
enum FastraceMode {
    Count,
    Proto,
    Grpc,
}

/// A fastrace reporter: counts the spans, and in `Proto`/`Grpc` mode turns each trace
/// into a SkyWalking segment, encodes it, and (`Grpc`) streams the batch to the sink.
struct FastraceReporter {
    mode: FastraceMode,
    spans: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ids: HashMap<u64, i32>,
    grpc: Option<(tokio::runtime::Runtime, SegmentClient)>,
}

type SegmentClient = v3::trace_segment_report_service_client::TraceSegmentReportServiceClient<
    tonic::transport::Channel,
>;

impl FastraceReporter {
    /// One SkyWalking segment per trace (the records of one trace are contiguous).
    fn segments(&mut self, spans: &[fastrace::collector::SpanRecord]) -> Vec<v3::SegmentObject> {
        let mut out = Vec::new();
        for trace in spans.chunk_by(|a, b| a.trace_id == b.trace_id) {
            self.ids.clear();
            for (index, span) in trace.iter().enumerate() {
                self.ids.insert(span.span_id.0, index as i32);
            }
            let trace_id = format!("{:032x}", trace[0].trace_id.0);
            let spans = trace
                .iter()
                .enumerate()
                .map(|(index, span)| v3::SpanObject {
                    span_id: index as i32,
                    parent_span_id: self.ids.get(&span.parent_id.0).copied().unwrap_or(-1),
                    start_time: (span.begin_time_unix_ns / 1_000_000) as i64,
                    end_time: ((span.begin_time_unix_ns + span.duration_ns) / 1_000_000) as i64,
                    operation_name: span.name.to_string(),
                    span_type: v3::SpanType::Local as i32,
                    component_id: 11000,
                    tags: span
                        .properties
                        .iter()
                        .map(|(k, v)| v3::KeyStringValuePair {
                            key: k.to_string(),
                            value: v.to_string(),
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            out.push(v3::SegmentObject {
                trace_segment_id: trace_id.clone(),
                trace_id,
                spans,
                service: "bench".to_owned(),
                service_instance: "bench-1".to_owned(),
                is_size_limited: false,
            });
        }
        out
    }
}

impl fastrace::collector::Reporter for FastraceReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        use prost::Message;
        let n = spans.len() as u64;
        match self.mode {
            FastraceMode::Count => {
                black_box(&spans);
            }
            FastraceMode::Proto => {
                let segments = self.segments(&spans);
                drop(spans);
                for segment in segments {
                    black_box(segment.encode_to_vec());
                }
            }
            FastraceMode::Grpc => {
                if spans.is_empty() {
                    return;
                }
                let segments = self.segments(&spans);
                drop(spans);
                let Some((runtime, client)) = &mut self.grpc else {
                    return;
                };
                // tonic's prost codec encodes each message into the stream's buffer.
                let result = runtime.block_on(client.collect(tokio_stream::iter(segments)));
                if let Err(e) = result {
                    eprintln!("fastrace-grpc: collect failed: {e}");
                    return;
                }
            }
        }
        self.spans
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "process_cpu <ours|fastrace-count|fastrace-proto|fastrace-grpc> <children> <traces> [chunk] [sink]";
    let peer = args.next().expect(usage);
    let children: usize = args.next().and_then(|s| s.parse().ok()).expect(usage);
    let traces: usize = args.next().and_then(|s| s.parse().ok()).expect(usage);
    let chunk: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(512);
    let warmup = 2048;
    let sink = args.next().unwrap_or_else(|| "127.0.0.1:11899".to_owned());
    let spans_per_trace = (children + 1) as u64;
    let main_tid = gettid();

    let (before, after, loops_before, sent, dropped, reporter_name) = match peer.as_str() {
        "ours" => {
            let agent = skywalking_runtime::Agent::builder()
                .config(skywalking_runtime::Config::default())
                .service("bench")
                .instance("bench-1")
                .backend(sink.clone())
                .max_send_queue(4 * chunk.max(512))
                .check_interval(Duration::from_secs(3600))
                .cds_interval(Duration::ZERO)
                .meter_active(false)
                .start()
                .expect("agent");
            let segments_sent = || skywalking_runtime::stats().segments_sent as usize;
            let base = segments_sent();
            let mut produced = 0;
            let mut run = |n: usize| {
                chunks(
                    n,
                    chunk,
                    || ours_trace(children),
                    |c| {
                        produced += c;
                        settle(|| segments_sent() - base >= produced);
                    },
                )
            };
            run(warmup);
            let warm = skywalking_runtime::stats();
            let loops_before = LOOP_CPU.load(std::sync::atomic::Ordering::Relaxed);
            let before = snapshot();
            run(traces);
            let after = snapshot();
            let stats = skywalking_runtime::stats();
            drop(agent);
            let sent = (stats.segments_sent - warm.segments_sent) * spans_per_trace;
            // The thread's name, as /proc cuts it to 15 bytes.
            (
                before,
                after,
                loops_before,
                sent,
                stats.segments_dropped,
                "skywalking-rep",
            )
        }
        "fastrace-count" | "fastrace-proto" | "fastrace-grpc" => {
            let mode = match peer.as_str() {
                "fastrace-count" => FastraceMode::Count,
                "fastrace-proto" => FastraceMode::Proto,
                _ => FastraceMode::Grpc,
            };
            let grpc = (mode == FastraceMode::Grpc).then(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let client = runtime
                    .block_on(SegmentClient::connect(format!("http://{sink}")))
                    .expect("connect to the sink");
                (runtime, client)
            });
            let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let reporter = FastraceReporter {
                mode,
                spans: counter.clone(),
                ids: HashMap::new(),
                grpc,
            };
            let config =
                fastrace::collector::Config::default().report_interval(Duration::from_millis(10));
            fastrace::set_reporter(reporter, config);
            let mut produced = 0;
            let mut run = |n: usize| {
                chunks(
                    n,
                    chunk,
                    || fastrace_trace(children),
                    |c| {
                        produced += c as u64 * spans_per_trace;
                        settle(|| counter.load(std::sync::atomic::Ordering::Relaxed) >= produced);
                    },
                )
            };
            run(warmup);
            let warm = counter.load(std::sync::atomic::Ordering::Relaxed);
            let loops_before = LOOP_CPU.load(std::sync::atomic::Ordering::Relaxed);
            let before = snapshot();
            run(traces);
            let after = snapshot();
            let sent = counter.load(std::sync::atomic::Ordering::Relaxed) - warm;
            (before, after, loops_before, sent, 0, "fastrace-global")
        }
        other => panic!("unknown peer {other}; {usage}"),
    };
    let spans = traces as u64 * spans_per_trace;
    let per_span = |ns: u64| ns as f64 / spans as f64;
    // The main thread's waiting (polling every 100 µs) is not the tracer's cost: count
    // its CPU inside the trace loops only, and every other thread's CPU in full.
    let main_loops = LOOP_CPU.load(std::sync::atomic::Ordering::Relaxed) - loops_before;
    let main_total = thread_delta(&before, &after, |_, tid| tid == main_tid);
    let rest = (after.process - before.process).saturating_sub(main_total);
    let reporter = thread_delta(&before, &after, |name, _| name.starts_with(reporter_name));
    // The reporter thread's kernel time (sockets, futexes), 10 ms resolution.
    let reporter_sys_ticks: u64 = after
        .threads
        .iter()
        .filter(|(name, ..)| name.starts_with(reporter_name))
        .map(|(_, tid, _)| {
            let end = after
                .thread_sys
                .iter()
                .find(|t| t.0 == *tid)
                .map_or(0, |t| t.1);
            let start = before
                .thread_sys
                .iter()
                .find(|t| t.0 == *tid)
                .map_or(0, |t| t.1);
            end.saturating_sub(start)
        })
        .sum();
    println!(
        "peer={peer} children={children} traces={traces} chunk={chunk} spans={spans} sent_spans={sent} dropped={dropped} \
         process_ns_per_span={:.2} main_ns_per_span={:.2} rest_ns_per_span={:.2} reporter_thread_ns_per_span={:.2} \
         main_waiting_ns_per_span={:.2} sys_ns_per_span={:.2} reporter_sys_ns_per_span={:.2} wall_ms={:.1}",
        per_span(main_loops + rest),
        per_span(main_loops),
        per_span(rest),
        per_span(reporter),
        per_span(main_total.saturating_sub(main_loops)),
        per_span(after.sys.saturating_sub(before.sys)),
        per_span(reporter_sys_ticks * 10_000_000),
        (after.wall - before.wall).as_secs_f64() * 1e3,
    );
    if sent != spans || dropped != 0 {
        eprintln!(
            "process_cpu: not a best-regime run: {sent} of {spans} spans sent, {dropped} dropped"
        );
        std::process::exit(2);
    }
}

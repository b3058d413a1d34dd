//! Memory per open trace: N tokio tasks, each parked inside a traced `async fn`, and what
//! the process still holds once they have all finished and the reporter has flushed.
//!
//! `cargo run --release --example parked_tasks -- <tracer> [tasks, default 100000]`, one
//! process per tracer so that each is measured on its own (`parked_tasks.sh` runs them
//! all and prints a table). Tracers:
//!
//! - `ours`: `#[skywalking_runtime::trace] async fn`, spawned as is: each task is a trace
//!   of one span whose future owns its context (the way `#[trace]` users write a task);
//! - `ours-root`: the same function awaited under a root `in_span("task")`, two spans
//!   per task: the shape of the fastrace case;
//! - `fastrace`: `#[fastrace::trace] async fn` awaited under a root `Span::root` per task
//!   (`async { .. }.in_span(root)`, the way fastrace's users trace a task);
//! - `none`: the same function, untraced.
//!
//! Every reporter discards what it is given (ours after building the prost messages).
//! Ours keeps its default queue (5,000 segments): when 100,000 traces end at once, part
//! of them is dropped at the queue (the count is printed); what is held afterwards is
//! the same either way, since a dropped segment is recycled like a sent one.
//!
//! Measured, with a warm-up burst of a few tasks first (lazy statics, thread-locals,
//! queues): the live bytes of a counting global allocator and the resident set
//! (`VmRSS`), before the burst, once every task is parked inside its traced function,
//! and after every task finished and the reporter (or fastrace's collector) flushed, then
//! again after glibc's `malloc_trim(0)`. Also printed: the allocations per task by size,
//! from the allocator's live-count per size, which shows where the bytes go.
//!
//! Output: human-readable lines on stderr and one line on stdout:
//! `RESULT <tracer> <tasks> <alloc B/task> <rss B/task> <held alloc B> <held rss B>
//! <held rss after trim B> <allocs/task>`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Allocation sizes are counted in classes of this many bytes ...
const CLASS_BYTES: usize = 8;
/// ... up to this size; larger ones share the last class.
const MAX_CLASSED: usize = 16 * 1024;
const CLASSES: usize = MAX_CLASSED / CLASS_BYTES + 1;

/// The system allocator, counting live bytes, live allocations, and live allocations by
/// size class.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);
static LIVE_BY_CLASS: [AtomicIsize; CLASSES] = [const { AtomicIsize::new(0) }; CLASSES];

#[inline]
fn class(size: usize) -> usize {
    size.div_ceil(CLASS_BYTES).min(CLASSES - 1)
}

#[inline]
fn counted(size: usize) {
    LIVE_BYTES.fetch_add(size as isize, Ordering::Relaxed);
    LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
    LIVE_BY_CLASS[class(size)].fetch_add(1, Ordering::Relaxed);
}

#[inline]
fn uncounted(size: usize) {
    LIVE_BYTES.fetch_sub(size as isize, Ordering::Relaxed);
    LIVE_ALLOCS.fetch_sub(1, Ordering::Relaxed);
    LIVE_BY_CLASS[class(size)].fetch_sub(1, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            counted(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            counted(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        uncounted(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            uncounted(layout.size());
            counted(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The process's resident set, in bytes (`VmRSS` of `/proc/self/status`). Reads into a
/// buffer on the stack: an allocation made here while the tasks are parked would sit at
/// the top of the heap and keep glibc from trimming it afterwards.
fn rss_bytes() -> i64 {
    use std::io::Read;
    let mut buf = [0u8; 8192];
    let mut len = 0;
    if let Ok(mut file) = std::fs::File::open("/proc/self/status") {
        while let Ok(n @ 1..) = file.read(&mut buf[len..]) {
            len += n;
        }
    }
    let status = std::str::from_utf8(&buf[..len]).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<i64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Gives glibc's free pages back to the system; returns whether it could.
fn malloc_trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's `malloc_trim` takes any padding and only releases free memory.
        unsafe { malloc_trim(0) };
        true
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// The counters at one moment. Made (allocated) before the burst and filled in place,
/// for the same reason as [`rss_bytes`].
struct Snapshot {
    bytes: i64,
    allocs: i64,
    rss: i64,
    by_class: Vec<i64>,
}

impl Snapshot {
    fn new() -> Snapshot {
        Snapshot {
            bytes: 0,
            allocs: 0,
            rss: 0,
            by_class: vec![0; CLASSES],
        }
    }

    fn take(&mut self) {
        self.bytes = LIVE_BYTES.load(Ordering::Relaxed) as i64;
        self.allocs = LIVE_ALLOCS.load(Ordering::Relaxed) as i64;
        self.rss = rss_bytes();
        for (into, class) in self.by_class.iter_mut().zip(&LIVE_BY_CLASS) {
            *into = class.load(Ordering::Relaxed) as i64;
        }
    }
}

/// Prints the size classes whose live count changed by at least a tenth of `per`,
/// as allocations (and bytes) per `per`.
fn print_classes(what: &str, from: &Snapshot, to: &Snapshot, per: usize) {
    eprintln!("  {what} (live allocations by size, per task):");
    let mut total = 0.0;
    for (i, (a, b)) in from.by_class.iter().zip(&to.by_class).enumerate() {
        let delta = b - a;
        if delta.unsigned_abs() as usize * 10 < per {
            continue;
        }
        let count = delta as f64 / per as f64;
        let label = if i == CLASSES - 1 {
            format!("> {MAX_CLASSED} B")
        } else {
            format!("{:>3}..{:>5} B", (i - 1) * CLASS_BYTES + 1, i * CLASS_BYTES)
        };
        let bytes = count * (i * CLASS_BYTES) as f64;
        total += bytes;
        eprintln!("    {label}: {count:>6.2} allocations, ~{bytes:>7.0} B");
    }
    eprintln!("    (listed classes: ~{total:.0} B per task, at the top of each class)");
}

/// What every task shares: the gate it waits at and the counters the main thread watches.
struct Shared {
    release: tokio::sync::Notify,
    parked: AtomicUsize,
}

impl Shared {
    /// Counts this task as parked and waits for the release.
    async fn park(&self) {
        // Created before the count: `notify_waiters` wakes every `Notified` that exists
        // when it is called, polled or not.
        let released = self.release.notified();
        self.parked.fetch_add(1, Ordering::Release);
        released.await;
    }
}

/// Untraced: the function every tracer instruments.
async fn plain_task(shared: Arc<Shared>, i: usize) -> usize {
    shared.park().await;
    black_box(i)
}

#[skywalking_runtime::trace]
async fn ours_task(shared: Arc<Shared>, i: usize) -> usize {
    shared.park().await;
    black_box(i)
}

#[fastrace::trace]
async fn fastrace_task(shared: Arc<Shared>, i: usize) -> usize {
    shared.park().await;
    black_box(i)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tracer {
    Ours,
    OursRoot,
    Fastrace,
    None,
}

impl Tracer {
    fn parse(s: &str) -> Option<Tracer> {
        Some(match s {
            "ours" => Tracer::Ours,
            "ours-root" => Tracer::OursRoot,
            "fastrace" => Tracer::Fastrace,
            "none" => Tracer::None,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Tracer::Ours => "ours",
            Tracer::OursRoot => "ours-root",
            Tracer::Fastrace => "fastrace",
            Tracer::None => "none",
        }
    }

    /// The size of the future [`spawn`](Self::spawn) hands to tokio (a task's cell holds
    /// it, with tokio's header and trailer, aligned to 128 bytes on x86-64).
    fn future_size(self, shared: &Arc<Shared>) -> usize {
        fn size_of_return<R>(_: &impl FnOnce() -> R) -> usize {
            std::mem::size_of::<R>()
        }
        match self {
            Tracer::Ours => size_of_return(&|| ours_task(shared.clone(), 0)),
            Tracer::OursRoot => {
                use skywalking_runtime::FutureExt;
                size_of_return(&|| {
                    let shared = shared.clone();
                    async move { ours_task(shared, 0).await }.in_span("task")
                })
            }
            Tracer::Fastrace => {
                use fastrace::prelude::*;
                size_of_return(&|| {
                    let shared = shared.clone();
                    async move { fastrace_task(shared, 0).await }
                        .in_span(Span::root("task", SpanContext::random()))
                })
            }
            Tracer::None => size_of_return(&|| {
                let shared = shared.clone();
                async move { plain_task(shared, 0).await }
            }),
        }
    }

    /// Spawns one task of this tracer's shape.
    fn spawn(
        self,
        rt: &tokio::runtime::Runtime,
        shared: &Arc<Shared>,
        i: usize,
    ) -> tokio::task::JoinHandle<usize> {
        let shared = shared.clone();
        match self {
            Tracer::Ours => rt.spawn(ours_task(shared, i)),
            Tracer::OursRoot => {
                use skywalking_runtime::FutureExt;
                rt.spawn(async move { ours_task(shared, i).await }.in_span("task"))
            }
            Tracer::Fastrace => {
                use fastrace::prelude::*;
                let root = Span::root("task", SpanContext::random());
                // The traced function is called inside the root's poll, where its span
                // finds the root as its local parent.
                rt.spawn(async move { fastrace_task(shared, i).await }.in_span(root))
            }
            Tracer::None => rt.spawn(async move { plain_task(shared, i).await }),
        }
    }
}

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

/// Runs `tasks` tasks of `tracer` until each is parked; returns the counters then and
/// the join handles (whose buffer is allocated before the first snapshot).
fn park_all(
    rt: &tokio::runtime::Runtime,
    tracer: Tracer,
    shared: &Arc<Shared>,
    handles: &mut Vec<tokio::task::JoinHandle<usize>>,
    tasks: usize,
) {
    shared.parked.store(0, Ordering::Relaxed);
    for i in 0..tasks {
        handles.push(tracer.spawn(rt, shared, i));
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while shared.parked.load(Ordering::Acquire) < tasks {
        assert!(Instant::now() < deadline, "tasks did not park");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Releases every parked task and waits until each has finished.
fn release_all(
    rt: &tokio::runtime::Runtime,
    shared: &Shared,
    handles: &mut Vec<tokio::task::JoinHandle<usize>>,
) {
    shared.release.notify_waiters();
    rt.block_on(async {
        for handle in handles.drain(..) {
            black_box(handle.await.expect("task"));
        }
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let tracer = args
        .next()
        .as_deref()
        .and_then(Tracer::parse)
        .unwrap_or_else(|| {
            eprintln!("usage: parked_tasks <ours|ours-root|fastrace|none> [tasks]");
            std::process::exit(2);
        });
    let tasks: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let agent = match tracer {
        Tracer::Ours | Tracer::OursRoot => Some(
            skywalking_runtime::Agent::builder()
                .service("parked")
                .instance("parked-1")
                .reporter(Discard)
                .start()
                .expect("agent"),
        ),
        Tracer::Fastrace => {
            fastrace::set_reporter(FastraceDiscard, fastrace::collector::Config::default());
            None
        }
        Tracer::None => None,
    };
    let settle = || {
        if let Some(agent) = &agent {
            assert!(agent.flush(Duration::from_secs(120)), "flush");
        }
        if tracer == Tracer::Fastrace {
            fastrace::flush();
        }
        // Let the reporter thread finish the turn that the flush waited for.
        std::thread::sleep(Duration::from_millis(200));
    };

    let shared = Arc::new(Shared {
        release: tokio::sync::Notify::new(),
        parked: AtomicUsize::new(0),
    });
    let mut handles = Vec::with_capacity(tasks);

    // Warm-up: a few tasks through the whole path, so that lazy statics, thread-locals
    // and queues exist before the first snapshot.
    for _ in 0..3 {
        park_all(&rt, tracer, &shared, &mut handles, 16);
        release_all(&rt, &shared, &mut handles);
        settle();
    }
    let before_stats = skywalking_runtime::stats();

    let [mut base, mut open, mut after, mut after_trim] = std::array::from_fn(|_| Snapshot::new());
    base.take();
    let start = Instant::now();
    park_all(&rt, tracer, &shared, &mut handles, tasks);
    let parked_in = start.elapsed();
    open.take();
    release_all(&rt, &shared, &mut handles);
    settle();
    after.take();
    let trim_start = Instant::now();
    let trimmed = malloc_trim();
    let trim_took = trim_start.elapsed();
    after_trim.take();

    let per = |a: i64, b: i64| (b - a) as f64 / tasks as f64;
    let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "{} tasks, tracer {}: all parked after {:.0?}; the spawned future is {} B",
        tasks,
        tracer.name(),
        parked_in,
        tracer.future_size(&shared),
    );
    eprintln!(
        "  parked: {:.0} B/task live (allocator), {:.2} allocations/task, {:.0} B/task RSS",
        per(base.bytes, open.bytes),
        per(base.allocs, open.allocs),
        per(base.rss, open.rss),
    );
    print_classes("parked", &base, &open, tasks);
    eprintln!(
        "  after the burst and the flush: {:.2} MiB live held (allocator, {:+} allocations), {:.1} MiB RSS held{}",
        mib(after.bytes - base.bytes),
        after.allocs - base.allocs,
        mib(after.rss - base.rss),
        if trimmed {
            format!(
                ", {:.1} MiB after malloc_trim(0) (which took {:.1?})",
                mib(after_trim.rss - base.rss),
                trim_took
            )
        } else {
            String::new()
        },
    );
    print_classes("held after the burst", &base, &after, tasks);
    eprintln!(
        "  process: {:.1} MiB RSS before the burst, {:.1} MiB parked, {:.1} MiB after, {:.1} MiB after trim",
        mib(base.rss),
        mib(open.rss),
        mib(after.rss),
        mib(after_trim.rss),
    );
    if agent.is_some() {
        let stats = skywalking_runtime::stats();
        eprintln!(
            "  segments: {} queued, {} dropped (queue full), {} sent",
            stats.segments_queued - before_stats.segments_queued,
            stats.segments_dropped - before_stats.segments_dropped,
            stats.segments_sent - before_stats.segments_sent,
        );
    }
    println!(
        "RESULT {} {} {:.0} {:.0} {} {} {} {:.2}",
        tracer.name(),
        tasks,
        per(base.bytes, open.bytes),
        per(base.rss, open.rss),
        after.bytes - base.bytes,
        after.rss - base.rss,
        if trimmed {
            after_trim.rss - base.rss
        } else {
            -1
        },
        per(base.allocs, open.allocs),
    );
    drop(agent);
}

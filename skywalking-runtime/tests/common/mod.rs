//! A process-wide agent that keeps every reported segment in memory.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::{Agent, AgentBuilder, Reporter};

/// An `sw8` header as the Java agent sends it.
pub const JAVA_SW8: &str = "1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3\
    -b3JkZXItc2VydmljZQ==\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy\
    -e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw";

#[derive(Clone, Default)]
pub struct Memory(Arc<Mutex<Vec<SegmentObject>>>);

impl Reporter for Memory {
    fn report(&mut self, segments: Vec<SegmentObject>) {
        let mut held = HELD.0.lock().unwrap_or_else(|e| e.into_inner());
        while *held {
            held = HELD.1.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        drop(held);
        self.0.lock().unwrap().extend(segments);
    }
}

/// Whether [`Memory`] holds the reporter thread (see [`with_reporter_held`]).
static HELD: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// Runs `f` with the reporter thread held in its first report, then lets it go and
/// flushes: no segment `f` queues for the reporter goes back to the pool before `f`
/// returns (segments that are never queued, such as an unsampled trace's or those a full
/// queue drops, are recycled at once). A warm-up run this way reaches the most segments
/// in flight that `f` can have, whatever the scheduling (a free reporter, recycling while
/// `f` runs, may keep the pool smaller than a later run of `f` needs). Calls must not
/// overlap: the first to return lets the reporter go.
pub fn with_reporter_held(f: impl FnOnce()) {
    /// Lets the reporter go when dropped, also when `f` panics (a failing assertion must
    /// not hold the reporter for the tests that follow).
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            *HELD.0.lock().unwrap_or_else(|e| e.into_inner()) = false;
            HELD.1.notify_all();
        }
    }
    *HELD.0.lock().unwrap() = true;
    let release = Release;
    f();
    drop(release);
    assert!(flush(Duration::from_secs(5)));
}

struct Started {
    memory: Memory,
    _guard: Agent,
}

static AGENT: OnceLock<Started> = OnceLock::new();

/// Starts the agent once per test binary, configured by `configure`.
pub fn start_with(configure: impl FnOnce(AgentBuilder) -> AgentBuilder) -> Memory {
    AGENT
        .get_or_init(|| {
            let memory = Memory::default();
            let guard = configure(
                Agent::builder()
                    .service("test-svc")
                    .instance("test-1")
                    .flush_interval(Duration::from_millis(5)),
            )
            .reporter(memory.clone())
            .start()
            .expect("agent starts");
            Started {
                memory,
                _guard: guard,
            }
        })
        .memory
        .clone()
}

/// Flushes the agent that [`start_with`] started; false if none runs.
pub fn flush(timeout: Duration) -> bool {
    AGENT
        .get()
        .is_some_and(|started| started._guard.flush(timeout))
}

pub fn start() -> Memory {
    start_with(|b| b)
}

impl Memory {
    /// The segments of `trace_id`, after flushing the queue.
    pub fn trace(&self, trace_id: &str) -> Vec<SegmentObject> {
        assert!(flush(Duration::from_secs(5)));
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Every segment reported so far, after flushing the queue.
    pub fn all(&self) -> Vec<SegmentObject> {
        assert!(flush(Duration::from_secs(5)));
        self.0.lock().unwrap().clone()
    }
}

/// The trace id active now, as a string.
pub fn current_trace() -> String {
    skywalking_runtime::trace_id()
        .expect("a trace is active")
        .to_string()
}

/// `(name, id, parent)` of each span, ordered by id.
pub fn shape(segment: &SegmentObject) -> Vec<(String, i32, i32)> {
    let mut spans: Vec<_> = segment
        .spans
        .iter()
        .map(|s| (s.operation_name.clone(), s.span_id, s.parent_span_id))
        .collect();
    spans.sort_by_key(|s| s.1);
    spans
}

/// Returns `Pending` once (waking itself), then `Ready`: a deterministic `.await` point.
pub struct YieldOnce(pub bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A [`YieldOnce`] that has not yielded yet.
pub fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

//! The context across `.await`, thread migration, `join!`, `select!`, cancellation and
//! `spawn`.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use common::yield_once;
use skywalking_proto::v3::RefType;
use skywalking_runtime::{FutureExt, Span};

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

async fn leaf(name: &'static str) {
    async {
        yield_once().await;
        let _sync = Span::local(format!("{name}.sync"));
    }
    .in_span(name)
    .await
}

#[test]
fn context_follows_the_future_from_thread_to_thread() {
    let memory = common::start();
    let mut fut = Box::pin(
        async {
            let trace = common::current_trace();
            leaf("first").await;
            yield_once().await;
            leaf("second").await;
            trace
        }
        .in_span("root"),
    );
    let waker = Waker::from(Arc::new(NoopWake));
    // First poll on this thread: the root and "first" open, then it waits.
    assert!(
        fut.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    // Nothing of this trace leaked into the thread.
    assert!(skywalking_runtime::trace_id().is_none());
    // The rest runs on other threads, one poll each.
    let trace = loop {
        let (f, done) = std::thread::spawn(move || {
            let waker = Waker::from(Arc::new(NoopWake));
            let mut fut = fut;
            let polled = fut.as_mut().poll(&mut Context::from_waker(&waker));
            assert!(skywalking_runtime::trace_id().is_none());
            (fut, polled)
        })
        .join()
        .unwrap();
        fut = f;
        if let Poll::Ready(trace) = done {
            break trace;
        }
    };
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    assert_eq!(
        common::shape(&segments[0]),
        vec![
            ("root".into(), 0, -1),
            ("first".into(), 1, 0),
            ("first.sync".into(), 2, 1),
            ("second".into(), 3, 0),
            ("second.sync".into(), 4, 3),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_on_a_multi_thread_runtime_keep_their_own_traces() {
    let memory = common::start();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            tokio::spawn(
                async move {
                    let trace = common::current_trace();
                    for _ in 0..3 {
                        tokio::task::yield_now().await;
                        leaf("step").await;
                    }
                    (i, trace)
                }
                .in_span("task"),
            )
        })
        .collect();
    let mut traces = Vec::new();
    for t in tasks {
        traces.push(t.await.unwrap().1);
    }
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), 64, "every task has its own trace");
    for trace in traces {
        let segments = memory.trace(&trace);
        assert_eq!(segments.len(), 1);
        let shape = common::shape(&segments[0]);
        assert_eq!(shape.len(), 7);
        assert_eq!(shape[0], ("task".into(), 0, -1));
        for k in 0..3i32 {
            let step = 1 + 2 * k;
            assert_eq!(shape[step as usize], ("step".into(), step, 0));
            assert_eq!(
                shape[step as usize + 1],
                ("step.sync".into(), step + 1, step)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_of_two_instrumented_futures_are_siblings() {
    let memory = common::start();
    let trace = async {
        tokio::join!(leaf("left"), leaf("right"));
        common::current_trace()
    }
    .in_span("root")
    .await;
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    let shape = common::shape(&segments[0]);
    let find = |n: &str| shape.iter().find(|s| s.0 == n).cloned().unwrap();
    assert_eq!(find("left").2, 0);
    assert_eq!(find("right").2, 0);
    assert_eq!(find("left.sync").2, find("left").1);
    assert_eq!(find("right.sync").2, find("right").1);
    assert!(segments[0].spans.iter().all(|s| s.end_time >= s.start_time));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_continues_the_trace_in_a_new_segment_with_a_cross_thread_ref() {
    let memory = common::start();
    let trace = async {
        let trace = common::current_trace();
        let handle = skywalking_runtime::spawn(async {
            let inner = common::current_trace();
            leaf("in-task").await;
            inner
        });
        let inner_trace = handle.await.unwrap();
        assert_eq!(inner_trace, trace);
        trace
    }
    .in_span("parent")
    .await;
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 2);
    let parent = segments
        .iter()
        .find(|s| s.spans[0].operation_name == "parent")
        .unwrap();
    let child = segments
        .iter()
        .find(|s| s.spans.iter().any(|sp| sp.operation_name == "in-task"))
        .unwrap();
    assert_ne!(parent.trace_segment_id, child.trace_segment_id);
    let first = child.spans.iter().find(|s| s.span_id == 0).unwrap();
    assert_eq!(first.operation_name, "in-task");
    assert_eq!(first.parent_span_id, -1);
    assert_eq!(first.refs.len(), 1);
    let r = &first.refs[0];
    assert_eq!(r.ref_type, RefType::CrossThread as i32);
    assert_eq!(r.trace_id, trace);
    assert_eq!(r.parent_trace_segment_id, parent.trace_segment_id);
    assert_eq!(r.parent_span_id, 0);
    assert_eq!(r.parent_service, "test-svc");
    assert_eq!(r.parent_service_instance, "test-1");
    assert_eq!(r.parent_endpoint, "parent");
}

#[test]
fn a_dropped_future_closes_its_span_as_cancelled() {
    let memory = common::start();
    let trace = std::sync::Mutex::new(String::new());
    {
        let mut fut = Box::pin(
            async {
                *trace.lock().unwrap() = common::current_trace();
                leaf("never-finishes").await;
            }
            .in_span("root"),
        );
        let waker = Waker::from(Arc::new(NoopWake));
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    } // dropped mid-flight
    let trace = trace.into_inner().unwrap();
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    let spans = &segments[0].spans;
    assert_eq!(spans.len(), 2);
    let root = &spans[0];
    assert_eq!(root.logs.len(), 1);
    assert_eq!(root.logs[0].data[0].value, "cancelled");
    assert!(!root.is_error);
    assert!(
        spans
            .iter()
            .all(|s| s.end_time >= s.start_time && s.end_time > 0)
    );
}

#[tokio::test]
async fn select_cancels_the_losing_branch() {
    let memory = common::start();
    let trace = async {
        tokio::select! {
            biased;
            _ = async { std::future::pending::<()>().await }.in_span("loser") => unreachable!(),
            _ = async { tokio::task::yield_now().await }.in_span("winner") => {}
        }
        common::current_trace()
    }
    .in_span("root")
    .await;
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    let spans = &segments[0].spans;
    let loser = spans.iter().find(|s| s.operation_name == "loser").unwrap();
    let winner = spans.iter().find(|s| s.operation_name == "winner").unwrap();
    assert_eq!(loser.parent_span_id, 0);
    assert_eq!(loser.logs[0].data[0].value, "cancelled");
    assert!(winner.logs.is_empty());
}

#[tokio::test]
async fn a_panicking_future_is_marked_as_error_with_the_message() {
    let memory = common::start();
    let handle = tokio::spawn(
        async {
            let trace = common::current_trace();
            SENT.lock().unwrap().replace(trace);
            async { panic!("boom at checkout") }.in_span("inner").await
        }
        .in_span("root"),
    );
    assert!(handle.await.is_err());
    let trace = SENT.lock().unwrap().clone().unwrap();
    let segments = memory.trace(&trace);
    let spans = &segments[0].spans;
    let inner = spans.iter().find(|s| s.operation_name == "inner").unwrap();
    let root = spans.iter().find(|s| s.operation_name == "root").unwrap();
    assert!(inner.is_error && root.is_error);
    let message = inner
        .logs
        .iter()
        .flat_map(|l| &l.data)
        .find(|d| d.key == "message")
        .unwrap();
    assert_eq!(message.value, "boom at checkout");
}

static SENT: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

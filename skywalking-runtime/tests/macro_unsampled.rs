//! `#[trace]` tags cost nothing when nothing records: with no agent, and in an unsampled
//! trace. One test, because it starts the (process-wide) agent halfway.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use skywalking_runtime::trace;

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn counted(value: u32) -> u32 {
    EVALUATED.fetch_add(1, Ordering::Relaxed);
    value
}

#[trace(tags(qty = counted(qty)))]
fn sync_fn(qty: u32) -> u32 {
    qty + 1
}

#[trace(tags(qty = counted(qty)), err)]
async fn async_fn(qty: u32) -> Result<u32, String> {
    Ok(qty + 1)
}

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

fn poll_once<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(NoopWake));
    match std::pin::pin!(future).poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("pending"),
    }
}

#[test]
fn tags_are_not_evaluated_when_nothing_records() {
    // No agent: the spans are no-ops.
    assert_eq!(sync_fn(1), 2);
    assert_eq!(poll_once(async_fn(1)), Ok(2));
    assert!(skywalking_runtime::trace_id().is_none());
    assert_eq!(EVALUATED.load(Ordering::Relaxed), 0);

    // An agent that samples nothing: the trace exists, its spans record nothing.
    let memory = common::start_with(|builder| builder.sample_rate(0.0));
    assert_eq!(sync_fn(1), 2);
    assert_eq!(poll_once(async_fn(1)), Ok(2));
    assert_eq!(EVALUATED.load(Ordering::Relaxed), 0);
    assert!(memory.all().is_empty());
}

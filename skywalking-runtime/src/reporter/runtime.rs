//! The tokio runtime a network sink (gRPC, Kafka) drives its client on: made on first
//! use, on the reporter thread, and never shared with the application's.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::diag::diag;

/// A current-thread runtime, built lazily; its threads' logs are never reported (they
/// belong to the reporter).
#[derive(Default)]
pub(crate) struct SinkRuntime(Option<tokio::runtime::Runtime>);

impl SinkRuntime {
    /// Runs `future` to completion, giving up after `limit` or at `deadline`, whichever
    /// comes first. `None` if it timed out or no runtime could be built.
    pub(crate) fn block_on<F: Future>(
        &mut self,
        limit: Duration,
        deadline: Option<Instant>,
        future: F,
    ) -> Option<F::Output> {
        if self.0.is_none() {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("skywalking-reporter")
                // Its blocking threads (DNS) are the reporter's too: never report their logs.
                .on_thread_start(crate::logs::mute_this_thread)
                .build()
            {
                Ok(runtime) => self.0 = Some(runtime),
                Err(e) => {
                    diag!(Error, "cannot build the reporter's tokio runtime: {e}");
                    return None;
                }
            }
        }
        let runtime = self.0.as_ref()?;
        let timeout = match deadline {
            Some(deadline) => limit.min(deadline.saturating_duration_since(Instant::now())),
            None => limit,
        };
        runtime
            .block_on(async { tokio::time::timeout(timeout, future).await })
            .ok()
    }
}

//! The reporter thread: drains the queue, encodes, hands batches to the [`Reporter`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use super::Reporter;
use super::encode::{self, Identity};
use super::queue;
use crate::record::SegmentRecord;
use crate::stats;

/// Segments per batch; also the queue length at which a parked worker is woken early.
const BATCH: usize = 512;

/// Set while the worker is parked and may be woken by producers.
static PARKED: AtomicBool = AtomicBool::new(false);
static THREAD: Mutex<Option<Thread>> = Mutex::new(None);

/// Wakes the worker when the queue has a full batch waiting.
#[inline]
pub(crate) fn nudge_if_busy(len: usize) {
    if len >= BATCH && PARKED.swap(false, Ordering::AcqRel) {
        wake();
    }
}

fn wake() {
    if let Ok(guard) = THREAD.lock() {
        if let Some(thread) = guard.as_ref() {
            thread.unpark();
        }
    }
}

enum Request {
    Flush(Instant, mpsc::Sender<()>),
}

/// The running worker.
#[derive(Debug)]
pub(crate) struct Worker {
    handle: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request")
    }
}

impl Worker {
    /// Starts the `skywalking-reporter` thread.
    pub(crate) fn start(
        mut reporter: Box<dyn Reporter>,
        identity: Identity,
        interval: Duration,
    ) -> std::io::Result<Worker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (requests, inbox) = mpsc::channel::<Request>();
        let thread_stop = stop.clone();
        let handle = thread::Builder::new()
            .name("skywalking-reporter".into())
            .spawn(move || {
                if let Ok(mut guard) = THREAD.lock() {
                    *guard = Some(thread::current());
                }
                let mut batch = Vec::with_capacity(BATCH);
                loop {
                    let stopping = thread_stop.load(Ordering::Acquire);
                    while drain_once(&mut batch, &mut *reporter, &identity) == BATCH {}
                    reporter.tick();
                    while let Ok(Request::Flush(deadline, done)) = inbox.try_recv() {
                        while drain_once(&mut batch, &mut *reporter, &identity) > 0 {}
                        reporter.flush(deadline);
                        let _ = done.send(());
                    }
                    if stopping {
                        break;
                    }
                    PARKED.store(true, Ordering::Release);
                    if queue::len() < BATCH {
                        thread::park_timeout(interval);
                    }
                    PARKED.store(false, Ordering::Release);
                }
                if let Ok(mut guard) = THREAD.lock() {
                    *guard = None;
                }
            })?;
        Ok(Worker {
            handle: Some(handle),
            stop,
            requests,
        })
    }

    /// Drains the queue into the reporter and flushes it, waiting at most until `deadline`.
    /// Returns false if the deadline passed first.
    pub(crate) fn flush(&self, deadline: Instant) -> bool {
        let (done, wait) = mpsc::channel();
        if self.requests.send(Request::Flush(deadline, done)).is_err() {
            return false;
        }
        self.wake_thread();
        let timeout = deadline.saturating_duration_since(Instant::now());
        wait.recv_timeout(timeout).is_ok()
    }

    /// Flushes, stops the thread and waits for it, at most until `deadline`.
    pub(crate) fn shutdown(mut self, deadline: Instant) -> bool {
        let flushed = self.flush(deadline);
        self.stop.store(true, Ordering::Release);
        self.wake_thread();
        if let Some(handle) = self.handle.take() {
            // Join only if the thread is about to finish; never hang the host past the
            // deadline.
            while !handle.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
        flushed
    }

    fn wake_thread(&self) {
        if let Some(handle) = &self.handle {
            handle.thread().unpark();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.wake_thread();
    }
}

/// Moves up to one batch from the queue to the reporter; returns how many.
fn drain_once(
    batch: &mut Vec<Box<SegmentRecord>>,
    reporter: &mut dyn Reporter,
    identity: &Identity,
) -> usize {
    queue::drain(BATCH, batch);
    let n = batch.len();
    if n == 0 {
        return 0;
    }
    let encoded = batch
        .iter()
        .map(|segment| encode::segment(segment, identity))
        .collect();
    for segment in batch.drain(..) {
        queue::recycle_segment(segment);
    }
    reporter.report(encoded);
    stats::segments_sent(n as u64);
    n
}

//! The reporter thread, `skywalking-reporter`: drains the queue, encodes, hands batches to
//! a [`Sink`] (the gRPC client, or a user's [`Reporter`]).
//!
//! # The loop
//!
//! Each turn: if the sink can take data now, move the queue to it in batches of
//! [`BATCH`] segments (one `collect` stream each for gRPC) until less than a batch is
//! left; let the sink do its periodic work (heartbeats); answer flush requests; then park
//! until the flush interval passes, a producer sees a full batch waiting and unparks it,
//! or a flush request arrives.
//!
//! While the sink cannot take data (collector down, backing off), the worker leaves the
//! segments in the queue, which is the only buffer: it is bounded, so producers drop and
//! count what does not fit, and nothing piles up in the reporter. In that state the
//! worker parks until the sink's next attempt and producers do not wake it.
//!
//! A flush drains the whole queue, trying to connect at once if the sink is backing off;
//! a shutdown does the same and then counts whatever could not be sent as dropped, so
//! `queued == sent + dropped (not queue-full)` holds at the end.
//!
//! Log records have a queue of their own, drained on the same turns, in batches of the
//! same size, under the same rules. Meters are collected every meter interval when the
//! sink is ready (and dropped, counted, when it is not), and once more at shutdown.
//!
//! The thread is muted for log reporting: what tonic, hyper or h2 log while the reporter
//! sends is never reported back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use skywalking_proto::v3::{self, SegmentObject};

use super::Reporter;
use super::encode::{self, Identity};
use super::encode_logs;
use crate::logs::{self, LogItem, RECORDS};
use crate::meter::{self, ProcessSampler};
use crate::queue;
use crate::record::SegmentRecord;
use crate::settings::REPORT_BATCH as BATCH;
use crate::stats;
use crate::trace::pool::{self, SEGMENTS};

/// Where the worker sends encoded batches. Runs on the worker thread only.
pub(crate) trait Sink: Send {
    /// Whether a batch can be sent now; `Err(at)`: not before `at` (backing off). With
    /// `force`, a sink that is backing off tries to connect now anyway; `deadline` bounds
    /// any connection attempt.
    fn ready(&mut self, force: bool, deadline: Option<Instant>) -> Result<(), Instant>;

    /// Encodes and sends one batch, and counts its segments as sent or dropped. The
    /// records go back to the pool afterwards. A sink may take the records out of the
    /// vector for the time of the call (the gRPC sink lends them to the stream, which
    /// encodes each segment when it is about to be sent); the vector holds the same
    /// records, in the same order, when it returns.
    #[allow(clippy::vec_box)]
    fn send(&mut self, batch: &mut Vec<Box<SegmentRecord>>, deadline: Option<Instant>);

    /// Encodes and sends one batch of log records, and counts them as sent or dropped.
    fn send_logs(&mut self, batch: &[Box<LogItem>], deadline: Option<Instant>);

    /// Sends one collection of meters (service, instance and timestamp still unset), and
    /// counts them as sent or dropped.
    fn send_meters(&mut self, data: Vec<v3::MeterData>, deadline: Option<Instant>);

    /// Periodic work, once per turn of the loop.
    fn tick(&mut self);

    /// Called once the queue has been drained for a flush.
    fn flush(&mut self, deadline: Instant);
}

/// A user's [`Reporter`]: always ready; a batch counts as sent once `report` returns.
///
/// A panic in the user's code is caught here: the batch is counted as dropped and in
/// `send_errors`, the first panic is reported on stderr, and the reporter thread goes on
/// with the next batch (an uncaught panic would end the thread, and every later segment
/// would be lost without a word).
pub(crate) struct Custom {
    reporter: Box<dyn Reporter>,
    identity: Identity,
    /// Whether a panic of the user's reporter has been reported already.
    panicked: bool,
}

impl Custom {
    /// A sink for `reporter`.
    pub(crate) fn new(reporter: Box<dyn Reporter>, identity: Identity) -> Custom {
        Custom {
            reporter,
            identity,
            panicked: false,
        }
    }

    /// Runs `call` on the user's reporter; false if it panicked.
    fn guarded(&mut self, method: &str, call: impl FnOnce(&mut dyn Reporter)) -> bool {
        let reporter = &mut *self.reporter;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(reporter)));
        if result.is_ok() {
            return true;
        }
        stats::send_error();
        if !std::mem::replace(&mut self.panicked, true) {
            crate::diag::diag!(
                Error,
                "the custom Reporter panicked in `{method}`: its batch is dropped (counted \
                 in stats()); later panics are only counted in `send_errors`"
            );
        }
        false
    }
}

impl Sink for Custom {
    fn ready(&mut self, _force: bool, _deadline: Option<Instant>) -> Result<(), Instant> {
        Ok(())
    }

    #[allow(clippy::vec_box)]
    fn send(&mut self, batch: &mut Vec<Box<SegmentRecord>>, _deadline: Option<Instant>) {
        let encoded: Vec<SegmentObject> = batch
            .iter()
            .map(|segment| encode::segment(segment, &self.identity))
            .collect();
        let n = batch.len() as u64;
        if self.guarded("report", |r| r.report(encoded)) {
            stats::segments_sent(n);
        } else {
            stats::segments_undelivered(n);
        }
    }

    fn send_logs(&mut self, batch: &[Box<LogItem>], _deadline: Option<Instant>) {
        let encoded = batch
            .iter()
            .map(|item| encode_logs::log(item, &self.identity))
            .collect();
        let n = batch.len() as u64;
        if self.guarded("report_logs", |r| r.report_logs(encoded)) {
            stats::logs_sent(n);
        } else {
            stats::logs_undelivered(n);
        }
    }

    fn send_meters(&mut self, data: Vec<v3::MeterData>, _deadline: Option<Instant>) {
        let n = data.len() as u64;
        let batches = meter::batches(
            data,
            &self.identity.service,
            &self.identity.instance,
            crate::clock::now_epoch_ms(),
        );
        if self.guarded("report_meters", |r| r.report_meters(batches)) {
            stats::meters_sent(n);
        } else {
            stats::meters_dropped(n);
        }
    }

    fn tick(&mut self) {
        self.guarded("tick", |r| r.tick());
    }

    fn flush(&mut self, deadline: Instant) {
        self.guarded("flush", |r| r.flush(deadline));
    }
}

enum Request {
    /// Flush by the deadline and answer; with `last`, send the meters too (shutdown).
    Flush {
        deadline: Instant,
        done: mpsc::Sender<bool>,
        last: bool,
    },
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

/// The worker thread's state.
struct Loop {
    sink: Box<dyn Sink>,
    interval: Duration,
    /// Boxed: segments travel through the queue and the pool as boxes.
    #[allow(clippy::vec_box)]
    batch: Vec<Box<SegmentRecord>>,
    #[allow(clippy::vec_box)]
    log_batch: Vec<Box<LogItem>>,
    meters: Option<Meters>,
}

/// The meter schedule.
pub(crate) struct Meters {
    interval: Duration,
    next: Instant,
    process: ProcessSampler,
}

impl Meters {
    /// Meters collected every `interval`, the first time one interval from now.
    pub(crate) fn every(interval: Duration) -> Meters {
        Meters {
            interval,
            next: Instant::now() + interval,
            process: ProcessSampler::new(),
        }
    }
}

impl Loop {
    fn run(mut self, stop: &AtomicBool, inbox: &mpsc::Receiver<Request>) {
        loop {
            while let Ok(Request::Flush {
                deadline,
                done,
                last,
            }) = inbox.try_recv()
            {
                let flushed = self.flush(deadline);
                if last && Instant::now() < deadline {
                    self.send_meters(Some(deadline));
                }
                let _ = done.send(flushed);
            }
            // A shutdown has flushed already (within its deadline).
            if stop.load(Ordering::Acquire) {
                break;
            }
            let ready = self.drain_while_ready();
            if ready.is_ok() {
                self.meters_if_due();
            }
            self.sink.tick();
            crate::clock::reanchor_if_due();
            match ready {
                Ok(()) => {
                    queue::reporter::set_parked(true);
                    if SEGMENTS.len() < BATCH && RECORDS.len() < BATCH {
                        thread::park_timeout(self.interval);
                    }
                    queue::reporter::set_parked(false);
                }
                // Backing off: producers must not wake us for every segment.
                Err(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    thread::park_timeout(wait.min(self.interval).max(Duration::from_millis(1)));
                }
            }
        }
        self.drop_queued();
    }

    /// Sends full batches while the sink is ready; what is left (less than a batch) waits
    /// for the next interval.
    fn drain_while_ready(&mut self) -> Result<(), Instant> {
        loop {
            self.sink.ready(false, None)?;
            let segments = self.send_batch(None);
            let logs = self.send_log_batch(None);
            if segments < BATCH && logs < BATCH {
                return Ok(());
            }
        }
    }

    /// Drains the whole queue into the sink. False if the deadline passed or the sink
    /// could not take everything.
    fn flush(&mut self, deadline: Instant) -> bool {
        let mut force = true;
        loop {
            if Instant::now() >= deadline {
                return false;
            }
            if self.sink.ready(force, Some(deadline)).is_err() {
                return false;
            }
            force = false;
            let sent = self.send_batch(Some(deadline)) + self.send_log_batch(Some(deadline));
            if sent == 0 {
                break;
            }
        }
        self.sink.flush(deadline);
        Instant::now() <= deadline
    }

    /// Moves up to one batch from the queue to the sink; returns how many.
    fn send_batch(&mut self, deadline: Option<Instant>) -> usize {
        SEGMENTS.drain(BATCH, &mut self.batch);
        let n = self.batch.len();
        if n == 0 {
            return 0;
        }
        #[cfg(feature = "prometheus")]
        super::prometheus::observe(&self.batch);
        // Segments recorded only to be observed (`SegmentRecord::report`) are not sent.
        for segment in self.batch.extract_if(.., |segment| !segment.report) {
            pool::recycle_segment(segment);
        }
        self.sink.send(&mut self.batch, deadline);
        for segment in self.batch.drain(..) {
            pool::recycle_segment(segment);
        }
        n
    }

    /// Moves up to one batch of log records from their queue to the sink; returns how
    /// many.
    fn send_log_batch(&mut self, deadline: Option<Instant>) -> usize {
        RECORDS.drain(BATCH, &mut self.log_batch);
        let n = self.log_batch.len();
        if n > 0 {
            self.sink.send_logs(&self.log_batch, deadline);
            self.log_batch.clear();
        }
        n
    }

    /// Collects and sends the meters when their period has passed.
    fn meters_if_due(&mut self) {
        if self
            .meters
            .as_ref()
            .is_some_and(|m| Instant::now() >= m.next)
        {
            self.send_meters(None);
        }
    }

    /// Collects and sends the meters now, if meters are on; drops (and counts) them when
    /// the sink cannot take them.
    fn send_meters(&mut self, deadline: Option<Instant>) {
        let Some(meters) = self.meters.as_mut() else {
            return;
        };
        meters.next = Instant::now() + meters.interval;
        let data = meter::collect(&mut meters.process);
        if data.is_empty() {
            return;
        }
        if self.sink.ready(false, deadline).is_ok() {
            self.sink.send_meters(data, deadline);
        } else {
            stats::meters_dropped(data.len() as u64);
        }
    }

    /// At exit: what could not be sent is dropped, and counted.
    fn drop_queued(&mut self) {
        loop {
            RECORDS.drain(BATCH, &mut self.log_batch);
            if self.log_batch.is_empty() {
                break;
            }
            stats::logs_undelivered(self.log_batch.len() as u64);
            self.log_batch.clear();
        }
        loop {
            SEGMENTS.drain(BATCH, &mut self.batch);
            if self.batch.is_empty() {
                return;
            }
            stats::segments_undelivered(self.batch.len() as u64);
            for segment in self.batch.drain(..) {
                pool::recycle_segment(segment);
            }
        }
    }
}

impl Worker {
    /// Starts the `skywalking-reporter` thread; `meters`: the meter schedule, if meters
    /// are on.
    pub(crate) fn start(
        sink: Box<dyn Sink>,
        interval: Duration,
        meters: Option<Meters>,
    ) -> std::io::Result<Worker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (requests, inbox) = mpsc::channel::<Request>();
        let thread_stop = stop.clone();
        let state = Loop {
            sink,
            interval,
            batch: Vec::with_capacity(BATCH),
            log_batch: Vec::new(),
            meters,
        };
        let handle = thread::Builder::new()
            .name("skywalking-reporter".into())
            .spawn(move || {
                logs::mute_this_thread();
                queue::reporter::register(Some(thread::current()));
                state.run(&thread_stop, &inbox);
                queue::reporter::register(None);
            })?;
        Ok(Worker {
            handle: Some(handle),
            stop,
            requests,
        })
    }

    /// Drains the queue into the sink and flushes it, waiting at most until `deadline`.
    /// Returns false if the deadline passed first or not everything could be sent.
    pub(crate) fn flush(&self, deadline: Instant) -> bool {
        self.request_flush(deadline, false)
    }

    fn request_flush(&self, deadline: Instant, last: bool) -> bool {
        let (done, wait) = mpsc::channel();
        let request = Request::Flush {
            deadline,
            done,
            last,
        };
        if self.requests.send(request).is_err() {
            return false;
        }
        self.wake_thread();
        let timeout = deadline.saturating_duration_since(Instant::now());
        wait.recv_timeout(timeout).unwrap_or(false)
    }

    /// Flushes, stops the thread and waits for it, at most until `deadline`. What could
    /// not be sent is counted as dropped.
    pub(crate) fn shutdown(mut self, deadline: Instant) -> bool {
        let flushed = self.request_flush(deadline, true);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;
    use crate::record::TraceId;

    /// A reporter that panics on its first batch and keeps the later ones.
    struct PanicsOnce {
        calls: usize,
        kept: Arc<std::sync::Mutex<usize>>,
    }

    impl Reporter for PanicsOnce {
        fn report(&mut self, segments: Vec<SegmentObject>) {
            self.calls += 1;
            assert!(self.calls > 1, "a broken user reporter");
            if let Ok(mut kept) = self.kept.lock() {
                *kept += segments.len();
            }
        }
    }

    #[test]
    fn a_panicking_custom_reporter_loses_its_batch_and_keeps_the_thread_reporting() {
        let kept = Arc::new(std::sync::Mutex::new(0));
        let mut sink = Custom::new(
            Box::new(PanicsOnce {
                calls: 0,
                kept: kept.clone(),
            }),
            Identity::new("svc".to_owned(), "inst".to_owned()),
        );
        let batch = || {
            let mut segment = Box::new(SegmentRecord::with_capacity(1));
            segment.reset(TraceId::Local(Id::generate()));
            vec![segment]
        };
        let before = stats::stats();
        sink.send(&mut batch(), None);
        assert!(sink.panicked);
        sink.send(&mut batch(), None);
        assert_eq!(kept.lock().map(|k| *k).unwrap_or(0), 1);
        let after = stats::stats();
        // Other tests count too: the deltas are at least this test's.
        assert!(after.send_errors > before.send_errors);
        assert!(after.segments_dropped > before.segments_dropped);
        assert!(after.segments_sent > before.segments_sent);
    }
}

//! What the collector has received, and a way to wait for more of it.
//!
//! The store is shared by the gRPC handlers (which append) and the
//! [`MockCollector`](crate::MockCollector) (which reads). Every append bumps a
//! [`watch`] version, so waiters sleep until something arrives instead of polling.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use skywalking_proto::v3::{
    ConfigurationSyncRequest, Event, InstancePingPkg, InstanceProperties, LogData, MeterData,
    SegmentObject,
};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::Error;

/// Everything the collector has recorded, in arrival order.
///
/// Returned by [`MockCollector::records`](crate::MockCollector::records) and
/// [`MockCollector::take`](crate::MockCollector::take). Calls that were rejected (by
/// authentication or [`fail_first`](crate::Builder::fail_first)) record nothing.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Records {
    /// Segments from `TraceSegmentReportService/collect` and `/collectInSync`.
    pub segments: Vec<SegmentObject>,
    /// `ManagementService/reportInstanceProperties` requests.
    pub properties: Vec<InstanceProperties>,
    /// `ManagementService/keepAlive` requests.
    pub pings: Vec<InstancePingPkg>,
    /// Log records from `LogReportService/collect`.
    pub logs: Vec<LogData>,
    /// Meter data from `MeterReportService/collect` and, flattened, `/collectBatch`.
    pub meters: Vec<MeterData>,
    /// Events from `EventService/collect`.
    pub events: Vec<Event>,
    /// `ConfigurationDiscoveryService/fetchConfigurations` requests.
    pub configuration_requests: Vec<ConfigurationSyncRequest>,
}

/// Call counters. Rejected calls are counted too (in both fields).
#[derive(Debug, Default)]
struct Calls {
    by_method: BTreeMap<String, u64>,
    rejected: u64,
}

/// The shared, append-only (until cleared) record of what arrived.
#[derive(Debug)]
pub(crate) struct Store {
    records: Mutex<Records>,
    calls: Mutex<Calls>,
    version: watch::Sender<u64>,
}

/// Takes a lock even if a thread panicked while holding it: the data is plain values,
/// always consistent between statements, so a poisoned lock is still safe to read.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    pub(crate) fn new() -> Self {
        Self {
            records: Mutex::new(Records::default()),
            calls: Mutex::new(Calls::default()),
            version: watch::Sender::new(0),
        }
    }

    /// Appends something and wakes every waiter.
    pub(crate) fn record(&self, append: impl FnOnce(&mut Records)) {
        append(&mut lock(&self.records));
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Runs `read` on the records under the lock.
    pub(crate) fn read<R>(&self, read: impl FnOnce(&Records) -> R) -> R {
        read(&lock(&self.records))
    }

    /// Empties the records and the call counters.
    pub(crate) fn clear(&self) {
        self.take();
        *lock(&self.calls) = Calls::default();
    }

    /// Moves every record out, leaving the store empty.
    pub(crate) fn take(&self) -> Records {
        std::mem::take(&mut *lock(&self.records))
    }

    pub(crate) fn count_call(&self, method: &str) {
        let mut calls = lock(&self.calls);
        match calls.by_method.get_mut(method) {
            Some(n) => *n += 1,
            None => {
                calls.by_method.insert(method.to_owned(), 1);
            }
        }
    }

    pub(crate) fn count_rejected(&self) {
        lock(&self.calls).rejected += 1;
    }

    pub(crate) fn calls(&self) -> u64 {
        lock(&self.calls).by_method.values().sum()
    }

    pub(crate) fn calls_to(&self, method: &str) -> u64 {
        lock(&self.calls)
            .by_method
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn rejected_calls(&self) -> u64 {
        lock(&self.calls).rejected
    }

    /// Waits until `check` returns `Some`, re-running it after every append.
    ///
    /// Returns `None` on timeout. There is no lost wake-up: the subscription is taken
    /// before the first check, so an append between the check and the await still
    /// marks the version as changed.
    pub(crate) async fn wait_until<R>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Records) -> Option<R>,
    ) -> Option<R> {
        let deadline = Instant::now() + timeout;
        let mut version = self.version.subscribe();
        loop {
            if let Some(found) = self.read(&mut check) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, version.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives in `self`, so it cannot be gone; treat it as a timeout.
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Waits until the list `pick` selects holds at least `n` items, then returns a copy.
    pub(crate) async fn wait_for_count<T: Clone>(
        &self,
        what: &'static str,
        n: usize,
        timeout: Duration,
        pick: fn(&Records) -> &Vec<T>,
    ) -> Result<Vec<T>, Error> {
        let found = self
            .wait_until(timeout, |records| {
                let items = pick(records);
                (items.len() >= n).then(|| items.clone())
            })
            .await;
        found.ok_or_else(|| Error::Timeout {
            what: format!("{n} {what} (got {})", self.read(|r| pick(r).len())),
            waited: timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn segment(id: &str) -> SegmentObject {
        SegmentObject {
            trace_id: "t".into(),
            trace_segment_id: id.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn wait_wakes_on_append_from_another_task() {
        let store = Arc::new(Store::new());
        let writer = Arc::clone(&store);
        let task = tokio::spawn(async move {
            for i in 0..3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                writer.record(|r| r.segments.push(segment(&i.to_string())));
            }
        });
        let got = store
            .wait_for_count("segments", 3, Duration::from_secs(5), |r| &r.segments)
            .await
            .unwrap();
        assert_eq!(got.len(), 3);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn wait_times_out_with_a_useful_message() {
        let store = Store::new();
        store.record(|r| r.logs.push(LogData::default()));
        let err = store
            .wait_for_count("logs", 2, Duration::from_millis(20), |r| &r.logs)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }));
        assert_eq!(
            err.to_string(),
            "timed out after 20ms waiting for 2 logs (got 1)"
        );
    }

    #[test]
    fn clear_resets_records_and_counters() {
        let store = Store::new();
        store.count_call("/a/b");
        store.count_call("/a/b");
        store.count_rejected();
        store.record(|r| r.pings.push(InstancePingPkg::default()));
        assert_eq!(store.calls(), 2);
        assert_eq!(store.calls_to("/a/b"), 2);
        assert_eq!(store.rejected_calls(), 1);
        store.clear();
        assert_eq!(store.calls(), 0);
        assert_eq!(store.rejected_calls(), 0);
        assert_eq!(store.read(|r| r.clone()), Records::default());
    }
}

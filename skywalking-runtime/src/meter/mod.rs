//! Meters: counters, gauges and histograms with labels, reported to OAP's
//! `MeterReportService/collectBatch` every `SW_AGENT_METER_COLLECT_INTERVAL` seconds
//! (default 20), together with built-in process and tokio runtime meters.
//!
//! ```
//! use skywalking_runtime::meter;
//!
//! // Register once (this takes a lock), keep the handle, update it cheaply (one atomic
//! // operation, no lock, no allocation).
//! let orders = meter::counter("orders_total").label("region", "eu").build();
//! orders.inc();
//! orders.add(2);
//!
//! let queue = meter::gauge("work_queue_depth").build();
//! queue.set(17.0);
//!
//! let latency = meter::histogram("checkout_latency_ms")
//!     .buckets([10.0, 50.0, 100.0, 500.0])
//!     .build();
//! latency.observe(42.0);
//!
//! // A gauge read when meters are collected, on the reporter thread.
//! meter::gauge("cache_entries").build_fn(|| 1024.0);
//! # assert_eq!(orders.get(), 3);
//! ```
//!
//! # What is reported
//!
//! Every collection sends one `MeterData` per meter and label set, each with the service,
//! the instance and the collection's timestamp, all in one `MeterDataCollection` on one
//! `collectBatch` stream (OAP runs its rules once per `MeterDataCollection`, on that
//! message's data alone):
//!
//! - a **counter** as a single value: its total since it was registered (OAP's meter
//!   rules turn totals into rates with `increase`/`rate`);
//! - a **gauge** as a single value: its last value, or what its function returns;
//! - a **histogram** as buckets: bucket `b` counts the values `v` with
//!   `b <= v < next bucket`, totals since it was registered. The first bucket is marked
//!   `isNegativeInfinity` and holds the values below the first bound, as the protocol
//!   describes.
//!
//! Only a collection over [`MAX_COLLECTION_BYTES`] encoded is sent as several
//! `MeterDataCollection`s, split between meter names: all the data of one name stay in
//! one message, unless that name alone exceeds the bound, when it is split between its
//! label sets. One `MeterData` (a label set, or a histogram with all its buckets) is never
//! split.
//!
//! Registering the same name and labels twice returns the same meter. Names should be
//! valid meter names for OAP's MAL rules: letters, digits and `_`.
//!
//! # Built-in meters
//!
//! The `instance_rust_*` meters have no labels and are named as the Go
//! (`instance_golang_*`) and Python (`instance_pvm_*`) agents name theirs. The tokio
//! runtime is also reported as `thread_pool`, the meter the Java agent reports for its
//! thread pools.
//!
//! | name | what |
//! |---|---|
//! | `instance_rust_process_cpu_utilization` | CPU used by the process since the last collection, in percent of one core (200 = two cores busy) |
//! | `instance_rust_process_resident_memory_bytes` | resident memory (`VmRSS`) |
//! | `instance_rust_os_threads_num` | OS threads of the process |
//! | `instance_rust_open_fds_num` | open file descriptors |
//! | `instance_rust_tokio_workers_num` | worker threads of the tokio runtime the agent was started in (feature `tokio`) |
//! | `instance_rust_tokio_alive_tasks_num` | its tasks not yet finished |
//! | `instance_rust_tokio_global_queue_depth` | tasks waiting in its global (injection) queue |
//! | `thread_pool{pool_name, metric_type}` | the same runtime as a thread pool, `pool_name="tokio"`; `metric_type` below |
//!
//! The process meters read `/proc/self` and exist on Linux only; elsewhere they are left
//! out. The tokio meters exist when the agent was started inside a tokio runtime (or
//! after [`observe_tokio_runtime`]).
//!
//! `thread_pool` uses the label names and `metric_type` values of the Java agent, where
//! tokio's stable `RuntimeMetrics` give a faithful value:
//!
//! | `metric_type` | value |
//! |---|---|
//! | `core_pool_size`, `max_pool_size`, `pool_size` | worker threads (fixed when a runtime is built, so all three are equal; 1 for a `current_thread` runtime) |
//! | `active_size` | tasks alive (spawned, not finished). tokio's stable metrics have no count of busy workers, so this counts tasks, not threads, and can exceed `pool_size` |
//! | `queue_size` | tasks waiting in the global queue (the workers' local queues are not counted) |
//!
//! Left out: `task_count` and `completed_task_count`, since tokio's stable metrics count
//! neither spawned tasks (`spawned_tasks_count` needs `--cfg tokio_unstable`) nor
//! completed ones. The blocking pool (`spawn_blocking`) is not reported.
//!
//! # What OAP keeps
//!
//! OAP (10.2) keeps a meter only when a MAL rule in an active rule file names it (files in
//! `meter-analyzer-config`, active ones listed in `SW_METER_ANALYZER_ACTIVE_FILES`); it
//! drops every other meter without an error. Of OAP's default files only `threadpool.yaml`
//! names a meter this agent sends: `thread_pool`, stored as `meter_thread_pool` and shown
//! by the General service instance dashboard. The `instance_rust_*` meters need the rule
//! file this repository ships, `oap/meter-analyzer-config/rust-runtime.yaml`, copied into
//! OAP's `meter-analyzer-config` and activated with
//! `SW_METER_ANALYZER_ACTIVE_FILES=<the defaults>,rust-runtime`; OAP then stores them as
//! `meter_instance_rust_*`, and `oap/ui-initialized-templates/general/rust-instance.json`
//! is a service instance dashboard that charts them (README, "Meters in OAP"). Meters you
//! register need a rule of your own in such a file, for example for a counter:
//!
//! ```yaml
//! expSuffix: instance(['service'], ['instance'], Layer.GENERAL)
//! metricPrefix: meter_my_app
//! metricsRules:
//!   # meter_my_app_orders_per_minute: orders per minute, per region and instance.
//!   - name: orders_per_minute
//!     exp: orders_total.sum(['region', 'service', 'instance']).increase('PT1M')
//! ```

mod batch;
mod process;
#[cfg(feature = "tokio")]
mod runtime;

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use skywalking_proto::v3;

pub(crate) use batch::batches;
pub(crate) use process::ProcessSampler;
#[cfg(feature = "tokio")]
pub use runtime::observe_tokio_runtime;

/// The most bytes, encoded, of one `MeterDataCollection` message; a collection is split
/// only past it. gRPC's default 4 MiB limit on a received message, less a margin: OAP's
/// own limit is 50 MB by default, but a proxy on the way may keep gRPC's.
pub const MAX_COLLECTION_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

/// The default histogram bounds, for latencies in milliseconds.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

type Label = (Cow<'static, str>, Cow<'static, str>);

/// A meter's identity: its name and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    name: Cow<'static, str>,
    labels: Vec<Label>,
}

impl Key {
    fn labels(&self) -> Vec<v3::Label> {
        self.labels
            .iter()
            .map(|(name, value)| v3::Label {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect()
    }
}

type GaugeFn = Arc<dyn Fn() -> f64 + Send + Sync>;

#[derive(Clone)]
enum Entry {
    Counter(Arc<AtomicU64>),
    Gauge(Arc<AtomicU64>),
    GaugeFn(GaugeFn),
    Histogram(Arc<HistogramCell>),
}

impl Entry {
    fn same_kind(&self, other: &Entry) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

static REGISTRY: Mutex<Vec<(Key, Entry)>> = Mutex::new(Vec::new());

/// Registers `entry` under `key`, or returns the meter of the same kind already there.
fn register(key: Key, entry: Entry) -> Entry {
    let Ok(mut registry) = REGISTRY.lock() else {
        return entry;
    };
    if let Some((_, existing)) = registry
        .iter()
        .find(|(k, e)| *k == key && e.same_kind(&entry))
    {
        return existing.clone();
    }
    registry.push((key, entry.clone()));
    entry
}

/// The common part of the builders: a name and labels.
#[derive(Debug)]
struct Named {
    key: Key,
}

impl Named {
    fn new(name: Cow<'static, str>) -> Self {
        Named {
            key: Key {
                name,
                labels: Vec::new(),
            },
        }
    }

    fn label(&mut self, name: Cow<'static, str>, value: Cow<'static, str>) {
        self.key.labels.push((name, value));
    }
}

/// Starts a counter: a total that only grows. See the [module docs](self).
pub fn counter(name: impl Into<Cow<'static, str>>) -> CounterBuilder {
    CounterBuilder(Named::new(name.into()))
}

/// Starts a gauge: a value that goes up and down. See the [module docs](self).
pub fn gauge(name: impl Into<Cow<'static, str>>) -> GaugeBuilder {
    GaugeBuilder(Named::new(name.into()))
}

/// Starts a histogram: counts of values per bucket. See the [module docs](self).
pub fn histogram(name: impl Into<Cow<'static, str>>) -> HistogramBuilder {
    HistogramBuilder {
        named: Named::new(name.into()),
        buckets: DEFAULT_BUCKETS.to_vec(),
    }
}

/// Builds a [`Counter`]; made by [`counter`].
#[derive(Debug)]
#[must_use = "call `build` to register the meter"]
pub struct CounterBuilder(Named);

impl CounterBuilder {
    /// Adds a label.
    pub fn label(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.0.label(name.into(), value.into());
        self
    }

    /// Registers the counter (or finds the one with the same name and labels).
    pub fn build(self) -> Counter {
        match register(self.0.key, Entry::Counter(Arc::default())) {
            Entry::Counter(cell) => Counter(cell),
            _ => unreachable!("register returns an entry of the kind given"),
        }
    }
}

/// Builds a [`Gauge`]; made by [`gauge`].
#[derive(Debug)]
#[must_use = "call `build` or `build_fn` to register the meter"]
pub struct GaugeBuilder(Named);

impl GaugeBuilder {
    /// Adds a label.
    pub fn label(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.0.label(name.into(), value.into());
        self
    }

    /// Registers the gauge (or finds the one with the same name and labels).
    pub fn build(self) -> Gauge {
        match register(self.0.key, Entry::Gauge(Arc::new(AtomicU64::new(0)))) {
            Entry::Gauge(cell) => Gauge(cell),
            _ => unreachable!("register returns an entry of the kind given"),
        }
    }

    /// Registers a gauge whose value `read` returns when meters are collected (on the
    /// reporter thread; a panic there leaves the gauge out of that collection). A gauge
    /// with the same name and labels registered before stays in place.
    pub fn build_fn(self, read: impl Fn() -> f64 + Send + Sync + 'static) {
        register(self.0.key, Entry::GaugeFn(Arc::new(read)));
    }
}

/// Builds a [`Histogram`]; made by [`histogram`].
#[derive(Debug)]
#[must_use = "call `build` to register the meter"]
pub struct HistogramBuilder {
    named: Named,
    buckets: Vec<f64>,
}

impl HistogramBuilder {
    /// Adds a label.
    pub fn label(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.named.label(name.into(), value.into());
        self
    }

    /// The bucket bounds (default [`DEFAULT_BUCKETS`]); sorted and deduplicated, and
    /// non-finite values are left out.
    pub fn buckets(mut self, bounds: impl IntoIterator<Item = f64>) -> Self {
        self.buckets = bounds.into_iter().filter(|b| b.is_finite()).collect();
        self
    }

    /// Registers the histogram (or finds the one with the same name and labels).
    pub fn build(mut self) -> Histogram {
        self.buckets.sort_by(f64::total_cmp);
        self.buckets.dedup();
        let cell = HistogramCell {
            counts: (0..=self.buckets.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            bounds: self.buckets.into_boxed_slice(),
        };
        match register(self.named.key, Entry::Histogram(Arc::new(cell))) {
            Entry::Histogram(cell) => Histogram(cell),
            _ => unreachable!("register returns an entry of the kind given"),
        }
    }
}

/// A total that only grows. Cloning is cheap and clones update the same meter.
#[derive(Clone)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Counter").field(&self.get()).finish()
    }
}

/// A value that goes up and down. Cloning is cheap and clones update the same meter.
#[derive(Clone)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `delta` (negative to subtract).
    #[inline]
    pub fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).to_bits())
            });
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Gauge").field(&self.get()).finish()
    }
}

struct HistogramCell {
    bounds: Box<[f64]>,
    /// `counts[0]`: below the first bound; `counts[i]`: from `bounds[i - 1]` up to the
    /// next bound.
    counts: Box<[AtomicU64]>,
}

/// Counts of values per bucket. Cloning is cheap and clones update the same meter.
#[derive(Clone)]
pub struct Histogram(Arc<HistogramCell>);

impl Histogram {
    /// Counts `value` in its bucket (a binary search and one atomic increment).
    #[inline]
    pub fn observe(&self, value: f64) {
        let index = self.0.bounds.partition_point(|bound| *bound <= value);
        self.0.counts[index].fetch_add(1, Ordering::Relaxed);
    }

    /// The bucket bounds.
    pub fn bounds(&self) -> &[f64] {
        &self.0.bounds
    }

    /// The counts so far: below the first bound, then one per bound.
    pub fn counts(&self) -> Vec<u64> {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("bounds", &self.bounds())
            .field("counts", &self.counts())
            .finish()
    }
}

/// Called when the agent starts: observes the tokio runtime it starts in, if any and if
/// none was chosen before.
pub(crate) fn on_agent_start() {
    #[cfg(feature = "tokio")]
    runtime::observe_current();
}

fn single(name: &str, labels: Vec<v3::Label>, value: f64) -> v3::MeterData {
    v3::MeterData {
        metric: Some(v3::meter_data::Metric::SingleValue(v3::MeterSingleValue {
            name: name.to_owned(),
            labels,
            value,
        })),
        ..Default::default()
    }
}

/// The name of a meter datum.
fn name_of(data: &v3::MeterData) -> &str {
    match &data.metric {
        Some(v3::meter_data::Metric::SingleValue(v)) => &v.name,
        Some(v3::meter_data::Metric::Histogram(h)) => &h.name,
        None => "",
    }
}

/// Reads every meter: the registered ones, then the built-in ones. Service, instance and
/// timestamp are left for the sender to fill in.
pub(crate) fn collect(process: &mut ProcessSampler) -> Vec<v3::MeterData> {
    let entries: Vec<(Key, Entry)> = match REGISTRY.lock() {
        Ok(registry) => registry.clone(),
        Err(_) => Vec::new(),
    };
    let mut data = Vec::with_capacity(entries.len() + 8);
    for (key, entry) in entries {
        match entry {
            Entry::Counter(cell) => {
                data.push(single(
                    &key.name,
                    key.labels(),
                    cell.load(Ordering::Relaxed) as f64,
                ));
            }
            Entry::Gauge(cell) => {
                let value = f64::from_bits(cell.load(Ordering::Relaxed));
                data.push(single(&key.name, key.labels(), value));
            }
            Entry::GaugeFn(read) => {
                let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read()));
                if let Ok(value) = value {
                    data.push(single(&key.name, key.labels(), value));
                }
            }
            Entry::Histogram(cell) => {
                let values = cell
                    .counts
                    .iter()
                    .enumerate()
                    .map(|(i, count)| v3::MeterBucketValue {
                        bucket: if i == 0 { 0.0 } else { cell.bounds[i - 1] },
                        count: i64::try_from(count.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
                        is_negative_infinity: i == 0,
                    })
                    .collect();
                data.push(v3::MeterData {
                    metric: Some(v3::meter_data::Metric::Histogram(v3::MeterHistogram {
                        name: key.name.to_string(),
                        labels: key.labels(),
                        values,
                    })),
                    ..Default::default()
                });
            }
        }
    }
    for (name, value) in process.sample() {
        data.push(single(name, Vec::new(), value));
    }
    #[cfg(feature = "tokio")]
    runtime::collect(&mut data);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_hold_values_from_their_bound_up() {
        let h = histogram("unit_test_latency")
            .buckets([100.0, 10.0, 50.0, 50.0, f64::NAN])
            .build();
        assert_eq!(h.bounds(), [10.0, 50.0, 100.0]);
        for v in [-1.0, 9.9, 10.0, 49.0, 50.0, 100.0, 1e9] {
            h.observe(v);
        }
        assert_eq!(h.counts(), [2, 2, 1, 2]);
    }

    #[test]
    fn the_same_name_and_labels_is_the_same_meter() {
        let a = counter("unit_test_total").label("k", "v").build();
        let b = counter("unit_test_total").label("k", "v").build();
        let other = counter("unit_test_total").label("k", "w").build();
        a.inc();
        b.add(2);
        assert_eq!(a.get(), 3);
        assert_eq!(other.get(), 0);

        let g = gauge("unit_test_gauge").build();
        g.set(1.5);
        g.add(-0.5);
        assert_eq!(gauge("unit_test_gauge").build().get(), 1.0);
    }
}

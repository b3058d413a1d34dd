//! Meters over real gRPC: registered counters, gauges and histograms (with labels) and
//! the built-in process and tokio meters (the runtime also as `thread_pool`) arrive at
//! the mock collector in `MeterReportService/collectBatch` streams, every collect
//! interval, with the service, the instance and a timestamp on each.

mod reporter_support;

use std::time::Duration;

use reporter_support::WAIT;
use skywalking_proto::v3::{MeterData, meter_data::Metric};
use skywalking_runtime::{Agent, Config, meter};
use skywalking_testkit::MockCollector;

const COLLECT_BATCH: &str = "/skywalking.v3.MeterReportService/collectBatch";

fn name_of(data: &MeterData) -> &str {
    match &data.metric {
        Some(Metric::SingleValue(v)) => &v.name,
        Some(Metric::Histogram(h)) => &h.name,
        None => "",
    }
}

fn labels_of(data: &MeterData) -> Vec<(String, String)> {
    let labels = match &data.metric {
        Some(Metric::SingleValue(v)) => &v.labels,
        Some(Metric::Histogram(h)) => &h.labels,
        None => return Vec::new(),
    };
    labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

fn single(data: &MeterData) -> f64 {
    match &data.metric {
        Some(Metric::SingleValue(v)) => v.value,
        other => panic!("not a single value: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meters_arrive_in_batches_with_names_labels_and_values() {
    let collector = MockCollector::start().await.expect("collector");
    let guard = Agent::builder()
        .config(Config::default())
        .service("meter-svc")
        .instance("meter-1")
        .backend(collector.addr().to_string())
        .meter_collect_interval(Duration::from_millis(300))
        .start()
        .expect("agent starts");

    let eu = meter::counter("orders_total").label("region", "eu").build();
    let us = meter::counter("orders_total").label("region", "us").build();
    eu.add(5);
    us.inc();
    meter::counter("orders_total")
        .label("region", "eu")
        .build()
        .inc();
    let depth = meter::gauge("queue_depth").label("queue", "jobs").build();
    depth.set(7.5);
    meter::gauge("cache_entries").build_fn(|| 42.0);
    let latency = meter::histogram("latency_ms")
        .label("route", "/pay")
        .buckets([10.0, 100.0])
        .build();
    for v in [1.0, 20.0, 30.0, 500.0] {
        latency.observe(v);
    }

    // Wait for a collection that holds our meters (the first may predate them).
    let data = collector
        .wait_until(WAIT, |records| {
            let ours: Vec<MeterData> = records
                .meters
                .iter()
                .filter(|d| name_of(d) == "latency_ms")
                .cloned()
                .collect();
            let latest = ours.last()?.timestamp;
            Some(
                records
                    .meters
                    .iter()
                    .filter(|d| d.timestamp == latest)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        })
        .await
        .expect("a collection with the registered meters");

    for d in &data {
        assert_eq!(d.service, "meter-svc");
        assert_eq!(d.service_instance, "meter-1");
        assert!(d.timestamp > 0);
    }
    let find = |name: &str, labels: &[(&str, &str)]| -> &MeterData {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        data.iter()
            .find(|d| name_of(d) == name && labels_of(d) == labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in {data:#?}"))
    };
    assert_eq!(single(find("orders_total", &[("region", "eu")])), 6.0);
    assert_eq!(single(find("orders_total", &[("region", "us")])), 1.0);
    assert_eq!(single(find("queue_depth", &[("queue", "jobs")])), 7.5);
    assert_eq!(single(find("cache_entries", &[])), 42.0);
    let Some(Metric::Histogram(histogram)) = &find("latency_ms", &[("route", "/pay")]).metric
    else {
        panic!("latency_ms is not a histogram");
    };
    let buckets: Vec<(f64, i64, bool)> = histogram
        .values
        .iter()
        .map(|b| (b.bucket, b.count, b.is_negative_infinity))
        .collect();
    assert_eq!(
        buckets,
        [(0.0, 1, true), (10.0, 2, false), (100.0, 1, false)]
    );

    // Built-in meters: the process (Linux) and the tokio runtime the agent started in.
    let names: Vec<&str> = data.iter().map(name_of).collect();
    #[cfg(target_os = "linux")]
    for name in [
        "instance_rust_process_cpu_utilization",
        "instance_rust_process_resident_memory_bytes",
        "instance_rust_os_threads_num",
        "instance_rust_open_fds_num",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(single(find("instance_rust_tokio_workers_num", &[])), 2.0);
    assert!(single(find("instance_rust_tokio_alive_tasks_num", &[])) >= 0.0);
    assert!(names.contains(&"instance_rust_tokio_global_queue_depth"));
    // The same runtime as the thread pool OAP's default `threadpool.yaml` reads.
    let pool = |metric_type: &str| {
        single(find(
            "thread_pool",
            &[("pool_name", "tokio"), ("metric_type", metric_type)],
        ))
    };
    for metric_type in ["core_pool_size", "max_pool_size", "pool_size"] {
        assert_eq!(pool(metric_type), 2.0, "{metric_type}");
    }
    assert!(pool("active_size") >= 0.0);
    assert!(pool("queue_size") >= 0.0);
    assert!(collector.calls_to(COLLECT_BATCH) >= 1);

    // Counters keep their totals across collections; later collections see new values.
    eu.add(10);
    let later = collector
        .wait_until(WAIT, |records| {
            records
                .meters
                .iter()
                .filter(|d| name_of(d) == "orders_total" && labels_of(d)[0].1 == "eu")
                .map(single)
                .find(|v| *v == 16.0)
        })
        .await
        .expect("the counter's new total");
    assert_eq!(later, 16.0);

    drop(guard);
    let stats = skywalking_runtime::stats();
    assert!(stats.meters_sent > 0);
    assert_eq!(stats.meters_dropped, 0);
}

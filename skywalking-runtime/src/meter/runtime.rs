//! The built-in tokio runtime meters (feature `tokio`): the `instance_rust_tokio_*` gauges
//! and the same runtime as a `thread_pool`, the meter OAP's default `threadpool.yaml` rule
//! charts on the General service instance dashboard.

use std::sync::Mutex;

use skywalking_proto::v3;

use super::single;

/// The `pool_name` label of the tokio runtime's `thread_pool` meters.
pub(super) const POOL_NAME: &str = "tokio";

static TOKIO: Mutex<Option<tokio::runtime::Handle>> = Mutex::new(None);

/// Reports the `instance_rust_tokio_*` and `thread_pool` meters of the runtime behind
/// `handle` (instead of the runtime the agent was started in, if any).
pub fn observe_tokio_runtime(handle: tokio::runtime::Handle) {
    if let Ok(mut slot) = TOKIO.lock() {
        *slot = Some(handle);
    }
}

/// Observes the runtime the agent starts in, if any and if none was chosen before.
pub(super) fn observe_current() {
    if let Ok(mut slot) = TOKIO.lock()
        && slot.is_none()
    {
        *slot = tokio::runtime::Handle::try_current().ok();
    }
}

/// Appends the runtime's meters, if a runtime is observed.
pub(super) fn collect(data: &mut Vec<v3::MeterData>) {
    let Some(handle) = TOKIO.lock().ok().and_then(|h| h.clone()) else {
        return;
    };
    let metrics = handle.metrics();
    let workers = metrics.num_workers() as f64;
    let alive = metrics.num_alive_tasks() as f64;
    let queued = metrics.global_queue_depth() as f64;
    data.push(single(
        "instance_rust_tokio_workers_num",
        Vec::new(),
        workers,
    ));
    data.push(single(
        "instance_rust_tokio_alive_tasks_num",
        Vec::new(),
        alive,
    ));
    data.push(single(
        "instance_rust_tokio_global_queue_depth",
        Vec::new(),
        queued,
    ));
    // The worker count is fixed when a runtime is built, so it is the core, the maximum
    // and the current size alike. `task_count` and `completed_task_count` are left out:
    // tokio's stable metrics count neither spawned nor completed tasks.
    for (metric_type, value) in [
        ("core_pool_size", workers),
        ("max_pool_size", workers),
        ("pool_size", workers),
        ("active_size", alive),
        ("queue_size", queued),
    ] {
        data.push(single(
            "thread_pool",
            thread_pool_labels(metric_type),
            value,
        ));
    }
}

fn thread_pool_labels(metric_type: &str) -> Vec<v3::Label> {
    vec![
        v3::Label {
            name: "pool_name".to_owned(),
            value: POOL_NAME.to_owned(),
        },
        v3::Label {
            name: "metric_type".to_owned(),
            value: metric_type.to_owned(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(data: &v3::MeterData) -> Vec<(&str, &str)> {
        match &data.metric {
            Some(v3::meter_data::Metric::SingleValue(v)) => v
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn a_runtime_is_reported_as_a_thread_pool() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        observe_tokio_runtime(runtime.handle().clone());
        let mut data = Vec::new();
        collect(&mut data);
        let pool: Vec<(Vec<(&str, &str)>, f64)> = data
            .iter()
            .filter(|d| crate::meter::name_of(d) == "thread_pool")
            .map(|d| match &d.metric {
                Some(v3::meter_data::Metric::SingleValue(v)) => (labels(d), v.value),
                other => panic!("not a single value: {other:?}"),
            })
            .collect();
        let types: Vec<&str> = pool.iter().map(|(l, _)| l[1].1).collect();
        assert_eq!(
            types,
            [
                "core_pool_size",
                "max_pool_size",
                "pool_size",
                "active_size",
                "queue_size"
            ]
        );
        for (labels, value) in &pool {
            assert_eq!(labels[0], ("pool_name", "tokio"));
            assert_eq!(labels[1].0, "metric_type");
            if labels[1].1.ends_with("pool_size") {
                assert_eq!(*value, 1.0, "{labels:?}");
            }
        }
    }
}

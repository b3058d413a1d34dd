//! Log reporting through the `log` wrapper over real gRPC: a record at or above the
//! reporting level inside a traced function arrives with the trace id and segment id of
//! that segment; one outside any trace arrives without trace context; one below the
//! level is not sent. The inner logger sees each message prefixed with the ids.

mod reporter_support;

use std::sync::{Arc, Mutex};

use reporter_support::WAIT;
use skywalking_proto::v3::LogData;
use skywalking_proto::v3::log_data_body::Content;
use skywalking_runtime::integrations::log::SkyWalkingLogger;
use skywalking_runtime::{Agent, Config, FutureExt, LogLevel};
use skywalking_testkit::MockCollector;

/// An inner logger keeping `LEVEL message` lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl log::Log for Lines {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}", record.level(), record.args());
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

fn body(log: &LogData) -> &str {
    match log.body.as_ref().and_then(|b| b.content.as_ref()) {
        Some(Content::Text(text)) => &text.text,
        _ => "",
    }
}

fn tag(log: &LogData, key: &str) -> Option<String> {
    log.tags
        .as_ref()?
        .data
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.value.clone())
}

#[skywalking_runtime::trace]
fn reserve(sku: &str) -> (String, String) {
    log::debug!("below the reporting level");
    log::info!("reserving {sku}");
    (
        skywalking_runtime::trace_id().unwrap().to_string(),
        skywalking_runtime::segment_id().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_reported_with_the_trace_context_they_were_written_in() {
    let collector = MockCollector::start().await.expect("collector");
    let _agent = Agent::builder()
        .config(Config::default())
        .service("log-svc")
        .instance("log-1")
        .backend(collector.addr().to_string())
        .log_reporter_level(LogLevel::Info)
        .start()
        .expect("agent starts");
    let lines = Lines::default();
    SkyWalkingLogger::new(lines.clone())
        .init(log::LevelFilter::Trace)
        .expect("the only logger");

    let (trace, segment) = reserve("sku-1");
    // In an async span, across an await on a multi-threaded runtime.
    let (async_trace, async_segment) = async {
        tokio::task::yield_now().await;
        log::warn!(target: "shop::stock", "low stock");
        (
            skywalking_runtime::trace_id().unwrap().to_string(),
            skywalking_runtime::segment_id().unwrap().to_string(),
        )
    }
    .in_span("restock")
    .await;
    log::error!("outside any trace");

    let logs = collector.wait_for_logs(3, WAIT).await.expect("three logs");
    assert_eq!(logs.len(), 3, "{logs:#?}");
    assert!(logs.iter().all(|l| body(l) != "below the reporting level"));

    let reserving = logs.iter().find(|l| body(l) == "reserving sku-1").unwrap();
    let context = reserving.trace_context.as_ref().expect("trace context");
    assert_eq!(context.trace_id, trace);
    assert_eq!(context.trace_segment_id, segment);
    assert_eq!(context.span_id, 0);
    assert_eq!(reserving.service, "log-svc");
    assert_eq!(reserving.service_instance, "log-1");
    assert_eq!(tag(reserving, "level").as_deref(), Some("INFO"));
    assert_eq!(tag(reserving, "logger").as_deref(), Some("logs_log"));
    assert!(tag(reserving, "file").is_some_and(|f| f.ends_with("logs_log.rs")));

    let low = logs.iter().find(|l| body(l) == "low stock").unwrap();
    let context = low.trace_context.as_ref().expect("trace context");
    assert_eq!(context.trace_id, async_trace);
    assert_eq!(context.trace_segment_id, async_segment);
    assert_eq!(tag(low, "logger").as_deref(), Some("shop::stock"));

    let outside = logs
        .iter()
        .find(|l| body(l) == "outside any trace")
        .unwrap();
    assert!(outside.trace_context.is_none());

    // The inner logger saw every record, prefixed with the ids.
    let seen = lines.0.lock().unwrap().clone();
    assert!(seen.contains(&format!(
        "DEBUG [tid={trace} sid={segment} spid=0] below the reporting level"
    )));
    assert!(seen.contains(&format!(
        "INFO [tid={trace} sid={segment} spid=0] reserving sku-1"
    )));
    assert!(seen.contains(&"ERROR [tid=N/A sid=N/A spid=N/A] outside any trace".to_owned()));
}

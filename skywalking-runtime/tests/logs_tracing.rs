//! Log reporting through the `tracing` bridge over real gRPC: an event at or above the
//! reporting level inside a traced function arrives with the trace id, segment id and
//! span id of that segment, the endpoint and its tags; one outside any trace arrives
//! without trace context; one below the level is not sent. The `WithTraceIds` formatter
//! prints the same ids on the log line.

mod reporter_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reporter_support::WAIT;
use skywalking_proto::v3::LogData;
use skywalking_proto::v3::log_data_body::Content;
use skywalking_runtime::integrations::tracing::{TracingLayer, WithTraceIds};
use skywalking_runtime::{Agent, Config, Span};
use skywalking_testkit::MockCollector;
use tracing_subscriber::layer::SubscriberExt;

/// The formatted log lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

struct Ids {
    trace: String,
    segment: String,
    span: i32,
}

fn current_ids() -> Ids {
    Ids {
        trace: skywalking_runtime::trace_id().expect("trace").to_string(),
        segment: skywalking_runtime::segment_id()
            .expect("segment")
            .to_string(),
        span: skywalking_runtime::span_id().expect("span"),
    }
}

#[skywalking_runtime::trace]
fn charge(order: u32) -> Ids {
    tracing::info!("below the reporting level");
    tracing::warn!(order, "payment declined");
    current_ids()
}

#[test]
fn events_are_reported_with_the_trace_context_they_were_written_in() {
    let rt = reporter_support::collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let _agent = Agent::builder()
        .config(Config::default())
        .service("logs-svc")
        .instance("logs-1")
        .backend(collector.addr().to_string())
        .start()
        .expect("agent starts");
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::registry()
        .with(TracingLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .event_format(WithTraceIds::new(tracing_subscriber::fmt::format())),
        );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let ids = charge(7);
    let entry_ids = {
        let _entry = Span::entry("GET /orders", &http::HeaderMap::new());
        let _child = Span::local("load");
        tracing::error!("database down");
        current_ids()
    };
    tracing::error!("outside any trace");

    let logs = rt
        .block_on(collector.wait_for_logs(3, WAIT))
        .expect("three reported logs");
    assert_eq!(logs.len(), 3, "{logs:#?}");
    assert!(logs.iter().all(|l| body(l) != "below the reporting level"));
    for log in &logs {
        assert_eq!(log.service, "logs-svc");
        assert_eq!(log.service_instance, "logs-1");
        assert!(log.timestamp > 0);
    }

    let declined = logs.iter().find(|l| body(l) == "payment declined").unwrap();
    let context = declined.trace_context.as_ref().expect("trace context");
    assert_eq!(context.trace_id, ids.trace);
    assert_eq!(context.trace_segment_id, ids.segment);
    assert_eq!(context.span_id, ids.span);
    assert_eq!(context.span_id, 0);
    assert_eq!(declined.endpoint, "", "no entry span in that segment");
    assert_eq!(tag(declined, "level").as_deref(), Some("WARN"));
    assert_eq!(tag(declined, "logger").as_deref(), Some("logs_tracing"));
    assert_eq!(tag(declined, "order").as_deref(), Some("7"));
    assert!(tag(declined, "file").is_some_and(|f| f.ends_with("logs_tracing.rs")));
    assert!(tag(declined, "line").is_some_and(|l| l.parse::<u32>().is_ok()));

    let down = logs.iter().find(|l| body(l) == "database down").unwrap();
    let context = down.trace_context.as_ref().expect("trace context");
    assert_eq!(context.trace_id, entry_ids.trace);
    assert_eq!(context.trace_segment_id, entry_ids.segment);
    assert_eq!(context.span_id, 1);
    assert_eq!(down.endpoint, "GET /orders");

    let outside = logs
        .iter()
        .find(|l| body(l) == "outside any trace")
        .unwrap();
    assert!(outside.trace_context.is_none());
    assert_eq!(outside.endpoint, "");

    // The segment the log points at is the one reported.
    let segments = rt
        .block_on(collector.wait_for_trace(&ids.trace, 1, WAIT))
        .expect("the trace");
    assert_eq!(segments[0].trace_segment_id, ids.segment);

    // The formatted lines carry the same ids.
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle} in {text}"))
            .to_owned()
    };
    assert!(
        line("payment declined")
            .starts_with(&format!("[tid={} sid={} spid=0] ", ids.trace, ids.segment)),
        "{text}"
    );
    assert!(line("below the reporting level").starts_with(&format!("[tid={} ", ids.trace)));
    assert!(line("outside any trace").starts_with("[tid=N/A sid=N/A spid=N/A] "));

    assert!(_agent.flush(WAIT));
    let stats = skywalking_runtime::stats();
    assert_eq!(stats.logs_queued, 3);
    assert_eq!(stats.logs_sent, 3);
    assert_eq!(stats.logs_dropped, 0);
}

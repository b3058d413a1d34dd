//! The `tracing` bridge over real gRPC: `#[tracing::instrument]` functions inside
//! `#[sw::trace]` functions appear as child local spans (sync and async, across
//! `.await`s on a multi-threaded runtime), `#[sw::trace]` functions inside them as their
//! children, events as span logs; `tracing` spans outside any trace record nothing.

mod reporter_support;

use std::sync::OnceLock;
use std::time::Duration;

use reporter_support::WAIT;
use skywalking_proto::v3::{SegmentObject, SpanObject, SpanType};
use skywalking_runtime::integrations::tracing::TracingLayer;
use skywalking_runtime::{Agent, Config};
use skywalking_testkit::MockCollector;
use tracing_subscriber::layer::SubscriberExt;

struct Setup {
    collector: MockCollector,
    _agent: Agent,
    _runtime: tokio::runtime::Runtime,
}

/// One collector, agent and subscriber for the whole binary (the agent and the global
/// subscriber are process-wide).
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let runtime = reporter_support::collector_runtime();
        let collector = runtime.block_on(MockCollector::start()).expect("collector");
        let agent = Agent::builder()
            .config(Config::default())
            .service("bridge-svc")
            .instance("bridge-1")
            .backend(collector.addr().to_string())
            .start()
            .expect("agent starts");
        let subscriber =
            tracing_subscriber::registry().with(TracingLayer::new().record_fields(true));
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        Setup {
            collector,
            _agent: agent,
            _runtime: runtime,
        }
    })
}

/// The segment whose first span is named `root`, once it arrives.
fn segment_named(root: &str) -> SegmentObject {
    let collector = &setup().collector;
    let root = root.to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(collector.wait_until(WAIT, |records| {
        records
            .segments
            .iter()
            .find(|s| {
                s.spans
                    .first()
                    .is_some_and(|s| s.operation_name.ends_with(&root))
            })
            .cloned()
    }))
    .unwrap_or_else(|e| panic!("no segment rooted at {root}: {e}"))
}

fn span<'a>(segment: &'a SegmentObject, name: &str) -> &'a SpanObject {
    segment
        .spans
        .iter()
        .find(|s| s.operation_name.ends_with(name))
        .unwrap_or_else(|| panic!("no span {name} in {segment:#?}"))
}

fn log_value(span: &SpanObject, key: &str) -> Option<String> {
    span.logs
        .iter()
        .flat_map(|l| &l.data)
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.clone())
}

#[tracing::instrument]
fn instrumented_sync(n: u32) -> u32 {
    tracing::info!(doubled = n * 2, "computing");
    leaf_sync() + n
}

#[skywalking_runtime::trace]
fn leaf_sync() -> u32 {
    1
}

#[skywalking_runtime::trace]
fn sync_root() -> u32 {
    instrumented_sync(3) + instrumented_sync(4)
}

#[test]
fn an_instrumented_fn_inside_a_traced_fn_is_a_child_local_span() {
    setup();
    assert_eq!(sync_root(), 9);
    let segment = segment_named("sync_root");
    let names: Vec<&str> = segment
        .spans
        .iter()
        .map(|s| s.operation_name.as_str())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let root = &segment.spans[0];
    assert!(root.operation_name.ends_with("sync_root"));
    // instrumented_sync(3), its leaf, instrumented_sync(4), its leaf.
    for (i, expected_parent) in [(1, 0), (2, 1), (3, 0), (4, 3)] {
        assert_eq!(
            segment.spans[i].parent_span_id, expected_parent,
            "{names:?}"
        );
    }
    let first = &segment.spans[1];
    assert_eq!(first.operation_name, "instrumented_sync");
    assert_eq!(first.span_type, SpanType::Local as i32);
    assert_eq!(first.component_id, 11000);
    assert!(segment.spans[2].operation_name.ends_with("leaf_sync"));
    // The span's fields as tags (record_fields), the event as a span log.
    assert!(first.tags.iter().any(|t| t.key == "n" && t.value == "3"));
    assert_eq!(log_value(first, "message").as_deref(), Some("computing"));
    assert_eq!(log_value(first, "doubled").as_deref(), Some("6"));
    assert_eq!(log_value(first, "level").as_deref(), Some("INFO"));
    assert!(first.start_time <= first.end_time);
}

#[tracing::instrument(skip_all)]
async fn instrumented_async(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    tracing::warn!("slept once");
    tokio::task::yield_now().await;
    leaf_async().await + n
}

#[skywalking_runtime::trace]
async fn leaf_async() -> u64 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    1
}

#[skywalking_runtime::trace]
async fn async_root() -> u64 {
    let (a, b) = tokio::join!(instrumented_async(1), instrumented_async(2));
    a + b
}

#[test]
fn instrumented_futures_are_child_spans_across_awaits_and_threads() {
    setup();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let value = runtime.block_on(async { tokio::spawn(async_root()).await.expect("joined") });
    assert_eq!(value, 5);
    let segment = segment_named("async_root");
    assert_eq!(segment.spans.len(), 5, "{segment:#?}");
    let instrumented: Vec<&SpanObject> = segment
        .spans
        .iter()
        .filter(|s| s.operation_name == "instrumented_async")
        .collect();
    assert_eq!(instrumented.len(), 2);
    for span in &instrumented {
        // Concurrent (`join!`) siblings: both children of the root.
        assert_eq!(span.parent_span_id, 0);
        assert_eq!(log_value(span, "message").as_deref(), Some("slept once"));
        assert_eq!(log_value(span, "level").as_deref(), Some("WARN"));
        assert!(span.tags.is_empty(), "skip_all records no field");
    }
    let leaves: Vec<&SpanObject> = segment
        .spans
        .iter()
        .filter(|s| s.operation_name.ends_with("leaf_async"))
        .collect();
    assert_eq!(leaves.len(), 2);
    for leaf in leaves {
        let parent = &segment.spans[leaf.parent_span_id as usize];
        assert_eq!(parent.operation_name, "instrumented_async");
        assert!(leaf.end_time <= parent.end_time);
    }
    let root = span(&segment, "async_root");
    assert!(instrumented.iter().all(|s| s.end_time <= root.end_time));
}

#[test]
fn tracing_spans_outside_a_trace_record_nothing() {
    setup();
    {
        let span = tracing::info_span!("orphan_tracing_span");
        let _entered = span.enter();
        tracing::info!("no trace here");
        assert!(skywalking_runtime::trace_id().is_none());
    }
    // A trace made after it, to know the orphan had its chance to be reported.
    #[skywalking_runtime::trace]
    fn after_orphan() {}
    after_orphan();
    let _ = segment_named("after_orphan");
    let segments = setup().collector.segments();
    assert!(
        segments
            .iter()
            .flat_map(|s| &s.spans)
            .all(|s| s.operation_name != "orphan_tracing_span")
    );
}

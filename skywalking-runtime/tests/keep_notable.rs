//! `SW_AGENT_SAMPLE=0` with `SW_AGENT_KEEP_ERRORS` and `SW_AGENT_KEEP_SLOW_MS`: traces
//! the sampler drops are recorded and judged per segment. A failed request (HTTP 500
//! through the tower layer), an `Err` of a `#[trace(err)]` function and a slow segment
//! are reported; an ordinary trace is not; a recording trace that sends `sw8` downstream
//! is kept, so the header never names a missing segment.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::integrations::tower::ServerLayer;
use skywalking_runtime::{Span, stats, trace};
use tower::{Layer, ServiceExt, service_fn};

/// Segments slower than this are kept.
const SLOW_MS: usize = 50;

fn memory() -> common::Memory {
    common::start_with(|b| b.sample_rate(0.0).keep_errors(true).keep_slow_ms(SLOW_MS))
}

/// The reported segments whose first span is named `name`.
fn segments_named(memory: &common::Memory, name: &str) -> Vec<SegmentObject> {
    memory
        .all()
        .into_iter()
        .filter(|s| s.spans.iter().any(|span| span.operation_name == name))
        .collect()
}

#[trace(err, name = "keep.fails")]
fn fails() -> Result<(), String> {
    Err("boom".to_owned())
}

#[trace(err, name = "keep.succeeds")]
fn succeeds() -> Result<(), String> {
    Ok(())
}

#[test]
fn an_err_span_is_reported_and_an_ok_one_is_not() {
    let memory = memory();
    let before = stats();
    assert!(fails().is_err());
    assert!(succeeds().is_ok());
    let failed = segments_named(&memory, "keep.fails");
    assert_eq!(failed.len(), 1, "the failed trace is reported");
    assert!(failed[0].spans[0].is_error);
    assert!(
        segments_named(&memory, "keep.succeeds").is_empty(),
        "an ordinary unsampled trace is not"
    );
    let after = stats();
    assert!(after.segments_kept_error > before.segments_kept_error);
    assert!(after.segments_discarded_unsampled > before.segments_discarded_unsampled);
    assert!(after.traces_unsampled >= before.traces_unsampled + 2);
}

#[test]
fn a_slow_segment_is_reported() {
    let memory = memory();
    let before = stats();
    {
        let _slow = Span::local("keep.slow");
        std::thread::sleep(Duration::from_millis(SLOW_MS as u64 + 30));
    }
    {
        let _quick = Span::local("keep.quick");
    }
    assert_eq!(segments_named(&memory, "keep.slow").len(), 1);
    assert!(segments_named(&memory, "keep.quick").is_empty());
    assert!(stats().segments_kept_slow > before.segments_kept_slow);
}

#[test]
fn a_failed_request_through_the_tower_layer_is_reported() {
    let memory = memory();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let service = ServerLayer::new().layer(service_fn(|request: Request<()>| async move {
        let status = match request.uri().path() {
            "/keep/fail" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::OK,
        };
        let mut response = Response::new(());
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    }));
    for path in ["/keep/fail", "/keep/ok"] {
        let request = Request::get(path).body(()).expect("request");
        rt.block_on(service.clone().oneshot(request))
            .expect("infallible");
    }
    let failed = segments_named(&memory, "GET /keep/fail");
    assert_eq!(failed.len(), 1, "the 500 is reported");
    let entry = &failed[0].spans[0];
    assert!(entry.is_error);
    assert!(
        entry
            .tags
            .iter()
            .any(|t| t.key == "http.status_code" && t.value == "500")
    );
    assert!(segments_named(&memory, "GET /keep/ok").is_empty());
}

#[test]
fn a_recording_trace_that_propagates_is_kept() {
    let memory = memory();
    let before = stats();
    let mut headers: HashMap<String, String> = HashMap::new();
    {
        let _root = Span::local("keep.propagates");
        let exit = Span::exit("keep.call", "peer:80");
        assert!(exit.is_recording(), "an undecided trace records");
        exit.inject(&mut headers);
    }
    assert!(headers.contains_key("sw8"), "{headers:?}");
    let kept = segments_named(&memory, "keep.propagates");
    assert_eq!(kept.len(), 1, "the segment the header names is reported");
    let sent = skywalking_runtime::propagation::Sw8::decode(&headers["sw8"]).expect("valid");
    assert_eq!(sent.parent_segment_id, kept[0].trace_segment_id);
    assert!(stats().traces_kept_propagated > before.traces_kept_propagated);
}

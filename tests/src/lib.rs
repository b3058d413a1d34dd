//! Fixtures shared by the workspace-level integration tests under `tests/tests/`.
//!
//! The tests talk to `skywalking_testkit::MockCollector` over real gRPC on
//! `127.0.0.1` with the plain tonic clients generated in `skywalking-proto`, the way an
//! agent's reporter would. This library holds the sample messages they send (with
//! every field worth checking filled in) and small client helpers.

use std::future::poll_fn;
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderValue};
use skywalking_proto::v3::log_data_body::Content;
use skywalking_proto::v3::meter_data::Metric;
use skywalking_proto::v3::{
    ConfigurationSyncRequest, Event, InstancePingPkg, InstanceProperties, JsonLog,
    KeyStringValuePair, Label, Log, LogData, LogDataBody, LogTags, MeterBucketValue, MeterData,
    MeterHistogram, MeterSingleValue, RefType, SegmentObject, SegmentReference, Source, SpanLayer,
    SpanObject, SpanType, TextLog, TraceContext, Type, YamlLog,
};
use tonic::Code;
use tonic::client::GrpcService;
use tonic::transport::{Channel, Endpoint};

/// How long a test waits for something that should arrive at once.
pub const WAIT: Duration = Duration::from_secs(10);

/// Connects a channel to `endpoint` (an `http://` URL from the collector).
///
/// # Panics
///
/// If the endpoint is malformed or the connection fails: this is test code.
pub async fn connect(endpoint: String) -> Channel {
    Endpoint::from_shared(endpoint)
        .expect("a valid endpoint URL")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to the mock collector")
}

/// One gRPC message frame: compressed flag, big-endian length, payload.
///
/// # Panics
///
/// If the payload is larger than 4 GiB.
pub fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    [&[flag][..], &len.to_be_bytes(), payload].concat()
}

/// Sends `body` as the raw HTTP/2 body of a gRPC call and returns the status the
/// server put in the response headers (a "trailers-only" answer, which is how errors
/// come back before any response message), or `None` if it answered normally.
///
/// # Panics
///
/// If `body` is not ASCII, or the call fails at the transport level.
pub async fn raw_call(channel: &mut Channel, path: &str, body: Vec<u8>) -> Option<Code> {
    // tonic's body type accepts a `String`; every byte used here is ASCII.
    let body = String::from_utf8(body).expect("the raw bodies here are ASCII");
    let request = http::Request::post(path)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/grpc"))
        .header("te", HeaderValue::from_static("trailers"))
        .body(tonic::body::Body::new(body))
        .unwrap();
    poll_fn(|cx| GrpcService::poll_ready(channel, cx))
        .await
        .unwrap();
    let response = GrpcService::call(channel, request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    tonic::Status::from_header_map(response.headers()).map(|status| status.code())
}

/// A `KeyStringValuePair`.
pub fn kv(key: &str, value: &str) -> KeyStringValuePair {
    KeyStringValuePair {
        key: key.into(),
        value: value.into(),
    }
}

/// A two-span segment (an entry span and an exit span under it) of service
/// `service`, with tags, a span log, a ref from `parent` (segment id, span id) if given,
/// and millisecond times starting at `start`.
pub fn segment(
    trace_id: &str,
    segment_id: &str,
    service: &str,
    parent: Option<(&str, i32)>,
    start: i64,
) -> SegmentObject {
    let refs = parent
        .map(|(parent_segment, parent_span)| SegmentReference {
            ref_type: RefType::CrossProcess as i32,
            trace_id: trace_id.into(),
            parent_trace_segment_id: parent_segment.into(),
            parent_span_id: parent_span,
            parent_service: "upstream".into(),
            parent_service_instance: "upstream-1".into(),
            parent_endpoint: "GET /upstream".into(),
            network_address_used_at_peer: format!("{service}:8080"),
        })
        .into_iter()
        .collect();
    SegmentObject {
        trace_id: trace_id.into(),
        trace_segment_id: segment_id.into(),
        spans: vec![
            SpanObject {
                span_id: 0,
                parent_span_id: -1,
                start_time: start,
                end_time: start + 20,
                refs,
                operation_name: format!("GET /{service}"),
                peer: String::new(),
                span_type: SpanType::Entry as i32,
                span_layer: SpanLayer::Http as i32,
                component_id: 11000,
                is_error: false,
                tags: vec![kv("http.method", "GET"), kv("http.status_code", "200")],
                logs: Vec::new(),
                skip_analysis: false,
            },
            SpanObject {
                span_id: 1,
                parent_span_id: 0,
                start_time: start + 5,
                end_time: start + 15,
                refs: Vec::new(),
                operation_name: "SELECT users".into(),
                peer: "db:5432".into(),
                span_type: SpanType::Exit as i32,
                span_layer: SpanLayer::Database as i32,
                component_id: 22,
                is_error: true,
                tags: vec![kv("db.type", "postgresql"), kv("db.statement", "SELECT 1")],
                logs: vec![Log {
                    time: start + 14,
                    data: vec![kv("event", "error"), kv("message", "connection reset")],
                }],
                skip_analysis: false,
            },
        ],
        service: service.into(),
        service_instance: format!("{service}-1"),
        is_size_limited: false,
    }
}

/// Instance properties as an agent reports them at start.
pub fn properties(service: &str) -> InstanceProperties {
    InstanceProperties {
        service: service.into(),
        service_instance: format!("{service}-1"),
        properties: vec![
            kv("language", "rust"),
            kv("hostname", "box"),
            kv("ipv4", "10.0.0.1"),
            kv("ipv4", "10.0.0.2"),
            kv("Process No.", "4242"),
        ],
        layer: "GENERAL".into(),
    }
}

/// A keep-alive ping.
pub fn ping(service: &str) -> InstancePingPkg {
    InstancePingPkg {
        service: service.into(),
        service_instance: format!("{service}-1"),
        layer: "GENERAL".into(),
    }
}

/// Three log records, one per body kind (text, JSON, YAML), with trace context and tags.
pub fn logs(service: &str) -> Vec<LogData> {
    let bodies = [
        Content::Text(TextLog {
            text: "payment declined".into(),
        }),
        Content::Json(JsonLog {
            json: r#"{"amount": 12.5}"#.into(),
        }),
        Content::Yaml(YamlLog {
            yaml: "retry: 3\n".into(),
        }),
    ];
    bodies
        .into_iter()
        .zip(0_i64..)
        .map(|(content, i)| LogData {
            timestamp: 1_700_000_000_000 + i,
            service: service.into(),
            service_instance: format!("{service}-1"),
            endpoint: "POST /pay".into(),
            body: Some(LogDataBody {
                r#type: "text".into(),
                content: Some(content),
            }),
            trace_context: Some(TraceContext {
                trace_id: "trace-log".into(),
                trace_segment_id: "segment-log".into(),
                span_id: i32::try_from(i).unwrap_or_default(),
            }),
            tags: Some(LogTags {
                data: vec![kv("level", "ERROR"), kv("logger", "pay::service")],
            }),
            layer: "GENERAL".into(),
        })
        .collect()
}

/// A single-value meter and a histogram meter.
pub fn meters(service: &str) -> Vec<MeterData> {
    let labels = vec![Label {
        name: "pool".into(),
        value: "db".into(),
    }];
    vec![
        MeterData {
            service: service.into(),
            service_instance: format!("{service}-1"),
            timestamp: 1_700_000_000_000,
            metric: Some(Metric::SingleValue(MeterSingleValue {
                name: "pool_active".into(),
                labels: labels.clone(),
                value: 7.5,
            })),
        },
        MeterData {
            service: String::new(),
            service_instance: String::new(),
            timestamp: 0,
            metric: Some(Metric::Histogram(MeterHistogram {
                name: "latency".into(),
                labels,
                values: vec![
                    MeterBucketValue {
                        bucket: 0.0,
                        count: 3,
                        is_negative_infinity: true,
                    },
                    MeterBucketValue {
                        bucket: 10.0,
                        count: 5,
                        is_negative_infinity: false,
                    },
                ],
            })),
        },
    ]
}

/// An error event with parameters.
pub fn event(service: &str) -> Event {
    Event {
        uuid: "2f6b3c1e-0000-4000-8000-000000000001".into(),
        source: Some(Source {
            service: service.into(),
            service_instance: format!("{service}-1"),
            endpoint: "POST /pay".into(),
        }),
        name: "Restart".into(),
        r#type: Type::Error as i32,
        message: "restarted after a crash".into(),
        parameters: [("reason".to_owned(), "oom".to_owned())].into(),
        start_time: 1_700_000_000_000,
        end_time: 1_700_000_000_500,
        layer: "GENERAL".into(),
    }
}

/// A configuration discovery request.
pub fn configuration_request(service: &str) -> ConfigurationSyncRequest {
    ConfigurationSyncRequest {
        service: service.into(),
        uuid: "last-uuid".into(),
    }
}

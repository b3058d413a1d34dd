//! The generated `SegmentObject` puts every field on the wire exactly where
//! `Tracing.proto` says: the expected bytes below are worked out by hand from the field
//! numbers and wire types (PROTOCOL.md §1.2), not produced by prost.
//!
//! A key byte is `(field_number << 3) | wire_type`, with wire type 0 = varint and
//! 2 = length-delimited. Varints are little-endian groups of 7 bits, the high bit set
//! on every byte but the last. Negative `int32` values are sign-extended to 64 bits, so
//! they always take ten bytes.

use prost::Message;
use skywalking_proto::v3::{
    KeyStringValuePair, Log, RefType, SegmentObject, SegmentReference, SpanLayer, SpanObject,
    SpanType,
};

/// 1_700_000_000_000 = 0x18B_CFE5_6800, split into 7-bit groups from the low end:
/// 0x00, 0x50, 0x15, 0x7F, 0x3C, 0x31 -> with continuation bits:
const START: [u8; 6] = [0x80, 0xD0, 0x95, 0xFF, 0xBC, 0x31];
/// 1_700_000_000_150 = START + 150 = 0x18B_CFE5_6896: low group 0x16, next 0x51.
const END: [u8; 6] = [0x96, 0xD1, 0x95, 0xFF, 0xBC, 0x31];
/// 1_700_000_000_100 = START + 100 = 0x18B_CFE5_6864: low group 0x64, next 0x50.
const LOG_TIME: [u8; 6] = [0xE4, 0xD0, 0x95, 0xFF, 0xBC, 0x31];

fn kv(key: &str, value: &str) -> KeyStringValuePair {
    KeyStringValuePair {
        key: key.into(),
        value: value.into(),
    }
}

fn segment() -> SegmentObject {
    SegmentObject {
        trace_id: "t1".into(),
        trace_segment_id: "s1".into(),
        spans: vec![
            // All defaults: an empty nested message, still present in the list.
            SpanObject::default(),
            SpanObject {
                span_id: 1,
                parent_span_id: -1,
                start_time: 1_700_000_000_000,
                end_time: 1_700_000_000_150,
                refs: vec![SegmentReference {
                    // CrossProcess is 0, the default, which would not be encoded.
                    ref_type: RefType::CrossThread as i32,
                    trace_id: "t1".into(),
                    parent_trace_segment_id: "s0".into(),
                    parent_span_id: 2,
                    parent_service: "up".into(),
                    parent_service_instance: "u1".into(),
                    parent_endpoint: "/p".into(),
                    network_address_used_at_peer: "h:80".into(),
                }],
                operation_name: "GET /a".into(),
                peer: "db:5432".into(),
                span_type: SpanType::Exit as i32,
                span_layer: SpanLayer::Http as i32,
                component_id: 11000,
                is_error: true,
                tags: vec![kv("k", "v"), kv("db", "pg")],
                logs: vec![Log {
                    time: 1_700_000_000_100,
                    data: vec![kv("event", "error")],
                }],
                skip_analysis: true,
            },
        ],
        service: "svc".into(),
        service_instance: "i1".into(),
        is_size_limited: true,
    }
}

/// The bytes of `segment()`, field by field. Each line is one field: key byte, then
/// (for strings and messages) the length, then the payload.
fn expected() -> Vec<u8> {
    let reference: Vec<u8> = [
        &b"\x08\x01"[..], // 1 refType, varint: CrossThread = 1
        b"\x12\x02t1",    // 2 traceId, len 2
        b"\x1A\x02s0",    // 3 parentTraceSegmentId, len 2
        b"\x20\x02",      // 4 parentSpanId, varint 2
        b"\x2A\x02up",    // 5 parentService, len 2
        b"\x32\x02u1",    // 6 parentServiceInstance, len 2
        b"\x3A\x02/p",    // 7 parentEndpoint, len 2
        b"\x42\x04h:80",  // 8 networkAddressUsedAtPeer, len 4
    ]
    .concat();
    assert_eq!(reference.len(), 30); // 2 + 4 + 4 + 2 + 4 + 4 + 4 + 6

    // KeyStringValuePair: 1 key (0x0A), 2 value (0x12).
    let tag_k_v = b"\x0A\x01k\x12\x01v"; // 6 bytes
    let tag_db_pg = b"\x0A\x02db\x12\x02pg"; // 8 bytes
    let event_error = b"\x0A\x05event\x12\x05error"; // 14 bytes

    let log: Vec<u8> = [
        // 1 time, varint (6 bytes)
        &[0x08][..],
        &LOG_TIME,
        // 2 data[0], len 14
        &[0x12, 0x0E],
        event_error,
    ]
    .concat();
    assert_eq!(log.len(), 23); // 1 + 6 + 2 + 14

    let span: Vec<u8> = [
        // 1 spanId, varint 1
        &[0x08, 0x01][..],
        // 2 parentSpanId, varint -1: sign-extended to 64 bits, so ten bytes
        &[
            0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
        ],
        // 3 startTime
        &[0x18],
        &START,
        // 4 endTime
        &[0x20],
        &END,
        // 5 refs[0], len 30
        &[0x2A, 0x1E],
        &reference,
        // 6 operationName, len 6
        b"\x32\x06GET /a",
        // 7 peer, len 7
        b"\x3A\x07db:5432",
        // 8 spanType, varint: Exit = 1
        &[0x40, 0x01],
        // 9 spanLayer, varint: Http = 3
        &[0x48, 0x03],
        // 10 componentId, varint 11000 = 0x55 << 7 | 0x78 -> 0xF8 0x55
        &[0x50, 0xF8, 0x55],
        // 11 isError, varint true
        &[0x58, 0x01],
        // 12 tags[0], len 6
        &[0x62, 0x06],
        tag_k_v,
        // 12 tags[1], len 8
        &[0x62, 0x08],
        tag_db_pg,
        // 13 logs[0], len 23
        &[0x6A, 0x17],
        &log,
        // 14 skipAnalysis, varint true
        &[0x70, 0x01],
    ]
    .concat();
    // 2 + 11 + 7 + 7 + 32 + 8 + 9 + 2 + 2 + 3 + 2 + 8 + 10 + 25 + 2
    assert_eq!(span.len(), 130);

    let segment: Vec<u8> = [
        // 1 traceId, len 2
        &b"\x0A\x02t1"[..],
        // 2 traceSegmentId, len 2
        b"\x12\x02s1",
        // 3 spans[0]: the all-default span, len 0
        b"\x1A\x00",
        // 3 spans[1], len 130 = 0b1_0000010 -> varint 0x82 0x01
        &[0x1A, 0x82, 0x01],
        &span,
        // 4 service, len 3
        b"\x22\x03svc",
        // 5 serviceInstance, len 2
        b"\x2A\x02i1",
        // 6 isSizeLimited, varint true
        b"\x30\x01",
    ]
    .concat();
    assert_eq!(segment.len(), 4 + 4 + 2 + 133 + 5 + 4 + 2);
    segment
}

#[test]
fn segment_object_encodes_to_the_hand_computed_bytes() {
    let segment = segment();
    let bytes = segment.encode_to_vec();
    assert_eq!(bytes, expected());
    assert_eq!(segment.encoded_len(), expected().len());
}

#[test]
fn hand_computed_bytes_decode_to_the_original() {
    let decoded = SegmentObject::decode(expected().as_slice()).unwrap();
    assert_eq!(decoded, segment());
    // Spot-check the fields a reader would get wrong with a shifted field number.
    let span = &decoded.spans[1];
    assert_eq!(span.parent_span_id, -1);
    assert_eq!(span.span_type(), SpanType::Exit);
    assert_eq!(span.span_layer(), SpanLayer::Http);
    assert_eq!(span.refs[0].ref_type(), RefType::CrossThread);
    assert_eq!(span.refs[0].network_address_used_at_peer, "h:80");
    assert_eq!(span.logs[0].data[0].value, "error");
}

#[test]
fn fields_are_found_by_number_not_position() {
    // The same segment with its top-level fields in reverse order (a legal encoding
    // other implementations may produce) decodes to the same value.
    let reversed: Vec<u8> = [
        &b"\x30\x01"[..], // 6 isSizeLimited
        b"\x2A\x02i1",    // 5 serviceInstance
        b"\x22\x03svc",   // 4 service
        b"\x12\x02s1",    // 2 traceSegmentId
        b"\x0A\x02t1",    // 1 traceId
    ]
    .concat();
    let decoded = SegmentObject::decode(reversed.as_slice()).unwrap();
    assert_eq!(
        decoded,
        SegmentObject {
            spans: Vec::new(),
            ..segment()
        }
    );
}

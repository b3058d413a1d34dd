//! Protobuf encoding of recorded segments straight into bytes, on the reporter thread.
//!
//! Building the prost structs first would allocate a `String` for every name, peer, tag
//! and id of every span only to copy them again into the wire buffer. This writes the
//! `SegmentObject` wire format directly from the records (field numbers from
//! `Tracing.proto`), computing each nested message's length first. The output decodes to
//! exactly what [`super::encode::segment`] builds; a test holds the two together.

use crate::id::Id;
use crate::record::{
    LogRecord, RefKind, RefRecord, SegmentRecord, SpanKind, SpanLayer, SpanRecord, Str, TraceId,
    operation_name, peer,
};

use super::encode::Identity;

const LEN: u8 = 2;
const VARINT: u8 = 0;

/// Appends the encoding of one `SegmentObject` to `out`. Sorts the record's tag and log
/// buffers by span (stable), which is why it takes the record mutably.
pub(crate) fn encode_segment(record: &mut SegmentRecord, identity: &Identity, out: &mut Vec<u8>) {
    record.tags.sort_by_key(|(span, ..)| *span);
    record.logs.sort_by_key(|(span, _)| *span);
    record.refs.sort_by_key(|(span, _)| *span);
    let record = &*record;
    // A span is ~60 bytes on the wire without tags: reserve once, not per field.
    out.reserve(64 + record.spans.len() * 64 + record.tags.len() * 24);
    trace_id(1, &record.trace_id, out);
    id_field(2, record.segment_id, out);
    let mut tags = &record.tags[..];
    let mut logs = &record.logs[..];
    let mut refs = &record.refs[..];
    for (index, span) in record.spans.iter().enumerate() {
        let id = index as i32;
        let span_tags = take_prefix(&mut tags, |t| t.0 == id);
        let span_logs = take_prefix(&mut logs, |l| l.0 == id);
        let span_refs = take_prefix(&mut refs, |r| r.0 == id);
        let fields = SpanFields {
            id,
            span,
            start_ms: crate::clock::to_epoch_ms(span.start),
            end_ms: crate::clock::to_epoch_ms(span.end),
            refs: span_refs,
            tags: span_tags,
            logs: span_logs,
            identity,
        };
        key(3, LEN, out);
        varint(fields.len() as u64, out);
        fields.encode(out);
    }
    string(4, &identity.service, out);
    string(5, &identity.instance, out);
    boolean(6, record.is_size_limited, out);
}

/// Splits off the leading run of `items` matching `pred`.
fn take_prefix<'a, T>(items: &mut &'a [T], pred: impl Fn(&T) -> bool) -> &'a [T] {
    let n = items.iter().take_while(|t| pred(t)).count();
    let (head, tail) = items.split_at(n);
    *items = tail;
    head
}

struct SpanFields<'a> {
    id: i32,
    span: &'a SpanRecord,
    start_ms: i64,
    end_ms: i64,
    refs: &'a [(i32, RefRecord)],
    tags: &'a [(i32, Str, Str)],
    logs: &'a [(i32, LogRecord)],
    identity: &'a Identity,
}

impl SpanFields<'_> {
    fn len(&self) -> usize {
        let s = self.span;
        let mut n = int32_len(1, self.id)
            + int32_len(2, s.parent_id)
            + int64_len(3, self.start_ms)
            + int64_len(4, self.end_ms);
        for (_, r) in self.refs {
            n += nested_len(5, reference_len(r, self.identity));
        }
        n += string_len(6, operation_name(&s.name))
            + string_len(7, peer(&s.peer))
            + int32_len(8, span_type(s.kind))
            + int32_len(9, span_layer(s.layer))
            + int32_len(10, s.component)
            + bool_len(11, s.is_error);
        for (_, k, v) in self.tags {
            n += nested_len(12, pair_len(k, v));
        }
        for (_, log) in self.logs {
            n += nested_len(13, log_len(log));
        }
        n + bool_len(14, s.skip_analysis)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let s = self.span;
        int32(1, self.id, out);
        int32(2, s.parent_id, out);
        int64(3, self.start_ms, out);
        int64(4, self.end_ms, out);
        for (_, r) in self.refs {
            key(5, LEN, out);
            varint(reference_len(r, self.identity) as u64, out);
            reference(r, self.identity, out);
        }
        string(6, operation_name(&s.name), out);
        string(7, peer(&s.peer), out);
        int32(8, span_type(s.kind), out);
        int32(9, span_layer(s.layer), out);
        int32(10, s.component, out);
        boolean(11, s.is_error, out);
        for (_, k, v) in self.tags {
            key(12, LEN, out);
            varint(pair_len(k, v) as u64, out);
            pair(k, v, out);
        }
        for (_, l) in self.logs {
            key(13, LEN, out);
            varint(log_len(l) as u64, out);
            log(l, out);
        }
        boolean(14, s.skip_analysis, out);
    }
}

/// The parent service and instance of a reference: this process's own for a
/// `CrossThread` reference, the caller's (as its header named them) for `CrossProcess`.
fn parent<'a>(r: &'a RefRecord, identity: &'a Identity) -> (&'a str, &'a str) {
    match r.kind {
        RefKind::CrossThread => (&identity.service, &identity.instance),
        RefKind::CrossProcess => (&r.parent_service, &r.parent_service_instance),
    }
}

fn reference_len(r: &RefRecord, identity: &Identity) -> usize {
    int32_len(1, ref_type(r.kind))
        + trace_id_len(2, &r.trace_id)
        + display_len(3, &r.parent_segment_id.0)
        + int32_len(4, r.parent_span_id)
        + string_len(5, parent(r, identity).0)
        + string_len(6, parent(r, identity).1)
        + string_len(7, operation_name(&r.parent_endpoint))
        + string_len(8, peer(&r.network_address_used_at_peer))
}

fn reference(r: &RefRecord, identity: &Identity, out: &mut Vec<u8>) {
    int32(1, ref_type(r.kind), out);
    trace_id(2, &r.trace_id, out);
    match &r.parent_segment_id.0 {
        crate::record::SegmentId::Local(id) => id_field(3, *id, out),
        crate::record::SegmentId::Remote(s) => string(3, s, out),
    }
    int32(4, r.parent_span_id, out);
    let (service, instance) = parent(r, identity);
    string(5, service, out);
    string(6, instance, out);
    string(7, operation_name(&r.parent_endpoint), out);
    string(8, peer(&r.network_address_used_at_peer), out);
}

fn pair_len(k: &str, v: &str) -> usize {
    string_len(1, k) + string_len(2, v)
}

fn pair(k: &str, v: &str, out: &mut Vec<u8>) {
    string(1, k, out);
    string(2, v, out);
}

fn log_len(l: &LogRecord) -> usize {
    int64_len(1, crate::clock::to_epoch_ms(l.time))
        + l.fields
            .iter()
            .map(|(k, v)| nested_len(2, pair_len(k, v)))
            .sum::<usize>()
}

fn log(l: &LogRecord, out: &mut Vec<u8>) {
    int64(1, crate::clock::to_epoch_ms(l.time), out);
    for (k, v) in &l.fields {
        key(2, LEN, out);
        varint(pair_len(k, v) as u64, out);
        pair(k, v, out);
    }
}

fn span_type(kind: SpanKind) -> i32 {
    match kind {
        SpanKind::Entry => 0,
        SpanKind::Exit => 1,
        SpanKind::Local => 2,
    }
}

fn span_layer(layer: SpanLayer) -> i32 {
    match layer {
        SpanLayer::Unknown => 0,
        SpanLayer::Database => 1,
        SpanLayer::RpcFramework => 2,
        SpanLayer::Http => 3,
        SpanLayer::Mq => 4,
        SpanLayer::Cache => 5,
        SpanLayer::Faas => 6,
    }
}

fn ref_type(kind: RefKind) -> i32 {
    match kind {
        RefKind::CrossProcess => 0,
        RefKind::CrossThread => 1,
    }
}

// --- primitives (proto3: fields holding the default value are omitted, as prost does) ---

fn key(field: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint(u64::from(field << 3 | u32::from(wire_type)), out);
}

#[inline(always)]
fn varint(mut value: u64, out: &mut Vec<u8>) {
    if value < 0x80 {
        out.push(value as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut n = 0;
    while value >= 0x80 {
        buf[n] = (value as u8) | 0x80;
        value >>= 7;
        n += 1;
    }
    buf[n] = value as u8;
    out.extend_from_slice(&buf[..=n]);
}

fn varint_len(value: u64) -> usize {
    // 1 byte per 7 bits, at least 1.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

fn nested_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

fn string(field: u32, value: &str, out: &mut Vec<u8>) {
    if !value.is_empty() {
        key(field, LEN, out);
        varint(value.len() as u64, out);
        out.extend_from_slice(value.as_bytes());
    }
}

fn string_len(field: u32, value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        nested_len(field, value.len())
    }
}

/// int32 is sign-extended to 64 bits on the wire (-1 takes ten bytes).
fn int32(field: u32, value: i32, out: &mut Vec<u8>) {
    if value != 0 {
        key(field, VARINT, out);
        varint(i64::from(value) as u64, out);
    }
}

fn int32_len(field: u32, value: i32) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + varint_len(i64::from(value) as u64)
    }
}

fn int64(field: u32, value: i64, out: &mut Vec<u8>) {
    if value != 0 {
        key(field, VARINT, out);
        varint(value as u64, out);
    }
}

fn int64_len(field: u32, value: i64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + varint_len(value as u64)
    }
}

fn boolean(field: u32, value: bool, out: &mut Vec<u8>) {
    if value {
        key(field, VARINT, out);
        out.push(1);
    }
}

fn bool_len(field: u32, value: bool) -> usize {
    if value { key_len(field) + 1 } else { 0 }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// An id as 32 lowercase hex digits, without allocating.
fn id_field(field: u32, id: Id, out: &mut Vec<u8>) {
    key(field, LEN, out);
    out.push(32);
    let value = id.as_u128();
    let mut hex = [0u8; 32];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = HEX[((value >> ((31 - i) * 4)) & 0xf) as usize];
    }
    out.extend_from_slice(&hex);
}

fn trace_id(field: u32, id: &TraceId, out: &mut Vec<u8>) {
    match id {
        TraceId::Local(id) => id_field(field, *id, out),
        TraceId::Remote(s) => string(field, s, out),
    }
}

fn trace_id_len(field: u32, id: &TraceId) -> usize {
    match id {
        TraceId::Local(_) => nested_len(field, 32),
        TraceId::Remote(s) => string_len(field, s),
    }
}

fn display_len(field: u32, id: &crate::record::SegmentId) -> usize {
    match id {
        crate::record::SegmentId::Local(_) => nested_len(field, 32),
        crate::record::SegmentId::Remote(s) => string_len(field, s),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use prost::Message;
    use skywalking_proto::v3;

    use super::*;
    use crate::record::{SegmentId, SegmentIdDisplay};

    fn span(parent: i32, name: &'static str) -> SpanRecord {
        SpanRecord {
            parent_id: parent,
            start: crate::clock::now_raw(),
            end: crate::clock::now_raw() + 1,
            kind: SpanKind::Exit,
            layer: SpanLayer::Database,
            component: 22,
            is_error: true,
            skip_analysis: parent >= 0,
            name: Cow::Borrowed(name),
            peer: Cow::Owned("db:5432".into()),
        }
    }

    fn record() -> SegmentRecord {
        let mut record = SegmentRecord::with_capacity(4);
        record.reset(TraceId::Remote(Arc::from("remote-trace")));
        record.spans.push(span(-1, "root"));
        record.spans.push(span(0, ""));
        record.spans.push(span(1, "deep"));
        record.tags.push((2, "b".into(), "2".into()));
        record.tags.push((0, "a".into(), "1".into()));
        record.tags.push((2, "c".into(), "".into()));
        record.logs.push((
            1,
            LogRecord {
                time: crate::clock::now_raw(),
                fields: vec![("event".into(), "x".into())],
            },
        ));
        record.refs.push((
            0,
            RefRecord {
                kind: RefKind::CrossThread,
                trace_id: TraceId::Local(Id::generate()),
                parent_segment_id: SegmentIdDisplay(SegmentId::Local(Id::generate())),
                parent_span_id: 300,
                parent_service: Cow::Borrowed(""),
                parent_service_instance: Cow::Borrowed("other"),
                parent_endpoint: Cow::Borrowed("GET /x"),
                network_address_used_at_peer: Cow::Borrowed(""),
            },
        ));
        // Several references on one span, and one on a later span (an entry span that
        // continued a request inside an active trace).
        for span in [1, 1] {
            record.refs.push((
                span,
                RefRecord {
                    kind: RefKind::CrossProcess,
                    trace_id: TraceId::Remote("remote-trace".into()),
                    parent_segment_id: SegmentIdDisplay(SegmentId::Remote("seg".into())),
                    parent_span_id: 2,
                    parent_service: Cow::Borrowed("caller"),
                    parent_service_instance: Cow::Borrowed("caller-1"),
                    parent_endpoint: Cow::Borrowed("GET /y"),
                    network_address_used_at_peer: Cow::Borrowed("me:80"),
                },
            ));
        }
        record.is_size_limited = true;
        record
    }

    #[test]
    fn bytes_decode_to_what_the_struct_encoder_builds() {
        let identity = Identity {
            service: "svc".into(),
            instance: "inst".into(),
        };
        let mut record = record();
        let mut bytes = Vec::new();
        encode_segment(&mut record, &identity, &mut bytes);
        let decoded = v3::SegmentObject::decode(bytes.as_slice()).expect("valid protobuf");
        let expected = super::super::encode::segment(&record, &identity);
        assert_eq!(decoded, expected);
        // And byte for byte what prost writes.
        assert_eq!(bytes, expected.encode_to_vec());
        assert_eq!(decoded.spans[2].tags.len(), 2);
        assert_eq!(decoded.spans[0].refs[0].parent_service, "svc");
    }

    #[test]
    fn varint_lengths_match_the_encoding() {
        for value in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            varint(value, &mut out);
            assert_eq!(out.len(), varint_len(value), "{value}");
        }
    }
}

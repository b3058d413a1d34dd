//! Turns recorded segments into protocol messages. Runs on the reporter thread only.

use skywalking_proto::v3;

use crate::clock;
use crate::record::{LogRecord, RefKind, RefRecord, SegmentRecord, SpanKind, SpanLayer, Str};
pub(crate) use crate::settings::Identity;

/// Encodes one segment.
pub(crate) fn segment(record: &SegmentRecord, identity: &Identity) -> v3::SegmentObject {
    v3::SegmentObject {
        trace_id: record.trace_id.to_string(),
        trace_segment_id: record.segment_id.to_string(),
        spans: record
            .spans
            .iter()
            .enumerate()
            .map(|(id, span)| v3::SpanObject {
                span_id: id as i32,
                parent_span_id: span.parent_id,
                start_time: clock::to_epoch_ms(span.start),
                end_time: clock::to_epoch_ms(span.end),
                refs: record
                    .refs
                    .iter()
                    .filter(|(span, _)| *span == id as i32)
                    .map(|(_, r)| reference(r, identity))
                    .collect(),
                operation_name: crate::record::operation_name(&span.name).to_owned(),
                peer: crate::record::peer(&span.peer).to_owned(),
                span_type: span_type(span.kind) as i32,
                span_layer: span_layer(span.layer) as i32,
                component_id: span.component,
                is_error: span.is_error,
                tags: record
                    .tags
                    .iter()
                    .filter(|(span_id, ..)| *span_id as usize == id)
                    .map(|(_, key, value)| pair(key, value))
                    .collect(),
                logs: record
                    .logs
                    .iter()
                    .filter(|(span_id, _)| *span_id as usize == id)
                    .map(|(_, l)| log(l))
                    .collect(),
                skip_analysis: span.skip_analysis,
            })
            .collect(),
        service: identity.service.clone(),
        service_instance: identity.instance.clone(),
        is_size_limited: record.is_size_limited,
    }
}

fn reference(r: &RefRecord, identity: &Identity) -> v3::SegmentReference {
    // A CrossThread reference names this process; a CrossProcess one, the caller.
    let (service, instance) = match r.kind {
        RefKind::CrossThread => (identity.service.clone(), identity.instance.clone()),
        RefKind::CrossProcess => (
            r.parent_service.to_string(),
            r.parent_service_instance.to_string(),
        ),
    };
    v3::SegmentReference {
        ref_type: match r.kind {
            RefKind::CrossProcess => v3::RefType::CrossProcess,
            RefKind::CrossThread => v3::RefType::CrossThread,
        } as i32,
        trace_id: r.trace_id.to_string(),
        parent_trace_segment_id: r.parent_segment_id.0.to_string(),
        parent_span_id: r.parent_span_id,
        parent_service: service,
        parent_service_instance: instance,
        parent_endpoint: crate::record::operation_name(&r.parent_endpoint).to_owned(),
        network_address_used_at_peer: crate::record::peer(&r.network_address_used_at_peer)
            .to_owned(),
    }
}

fn pair(key: &Str, value: &Str) -> v3::KeyStringValuePair {
    v3::KeyStringValuePair {
        key: key.to_string(),
        value: value.to_string(),
    }
}

fn log(record: &LogRecord) -> v3::Log {
    v3::Log {
        time: clock::to_epoch_ms(record.time),
        data: record.fields.iter().map(|(k, v)| pair(k, v)).collect(),
    }
}

fn span_type(kind: SpanKind) -> v3::SpanType {
    match kind {
        SpanKind::Entry => v3::SpanType::Entry,
        SpanKind::Exit => v3::SpanType::Exit,
        SpanKind::Local => v3::SpanType::Local,
    }
}

fn span_layer(layer: SpanLayer) -> v3::SpanLayer {
    match layer {
        SpanLayer::Unknown => v3::SpanLayer::Unknown,
        SpanLayer::Database => v3::SpanLayer::Database,
        SpanLayer::RpcFramework => v3::SpanLayer::RpcFramework,
        SpanLayer::Http => v3::SpanLayer::Http,
        SpanLayer::Mq => v3::SpanLayer::Mq,
        SpanLayer::Cache => v3::SpanLayer::Cache,
        SpanLayer::Faas => v3::SpanLayer::Faas,
    }
}

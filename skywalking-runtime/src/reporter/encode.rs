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
                refs: match (&record.first_ref, id) {
                    (Some(r), 0) => vec![reference(r, identity)],
                    _ => Vec::new(),
                },
                operation_name: span.name.to_string(),
                peer: span.peer.to_string(),
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
    let or_own = |s: &Str, own: &str| {
        if s.is_empty() {
            own.to_owned()
        } else {
            s.to_string()
        }
    };
    v3::SegmentReference {
        ref_type: match r.kind {
            RefKind::CrossProcess => v3::RefType::CrossProcess,
            RefKind::CrossThread => v3::RefType::CrossThread,
        } as i32,
        trace_id: r.trace_id.to_string(),
        parent_trace_segment_id: r.parent_segment_id.0.to_string(),
        parent_span_id: r.parent_span_id,
        parent_service: or_own(&r.parent_service, &identity.service),
        parent_service_instance: or_own(&r.parent_service_instance, &identity.instance),
        parent_endpoint: r.parent_endpoint.to_string(),
        network_address_used_at_peer: r.network_address_used_at_peer.to_string(),
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

/// `<32 hex>@<hostname>`, as the Java and Go agents name instances.
pub(crate) fn default_instance_name() -> String {
    format!("{}@{}", crate::id::Id::generate(), hostname())
}

/// The host's name, or `localhost` when it cannot be read.
pub(crate) fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .ok()
        })
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

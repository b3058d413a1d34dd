//! Turns captured log records into `LogData` messages. Runs on the reporter thread only.

use skywalking_proto::v3;

use crate::clock;
use crate::logs::LogItem;
use crate::settings::Identity;

/// Encodes one record: a text body, the trace context when the record was written in a
/// trace, and the tags `level`, `logger`, `file` and `line` (when known) followed by the
/// record's own fields.
pub(crate) fn log(item: &LogItem, identity: &Identity) -> v3::LogData {
    let pair = |key: &str, value: String| v3::KeyStringValuePair {
        key: key.to_owned(),
        value,
    };
    let mut tags = Vec::with_capacity(4 + item.tags.len());
    tags.push(pair("level", item.level.as_str().to_owned()));
    tags.push(pair("logger", item.logger.to_string()));
    if let Some(file) = &item.file {
        tags.push(pair("file", file.to_string()));
    }
    if let Some(line) = item.line {
        tags.push(pair("line", line.to_string()));
    }
    tags.extend(item.tags.iter().map(|(k, v)| pair(k, v.to_string())));
    let trace_context = item.context.trace_id().map(|trace_id| v3::TraceContext {
        trace_id: trace_id.to_string(),
        trace_segment_id: item
            .context
            .segment_id()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        span_id: item.context.span_id().unwrap_or(0),
    });
    v3::LogData {
        timestamp: clock::to_epoch_ms(item.time),
        service: identity.service.clone(),
        service_instance: identity.instance.clone(),
        endpoint: item
            .endpoint
            .as_ref()
            .map(|e| crate::record::operation_name(e).to_owned())
            .unwrap_or_default(),
        body: Some(v3::LogDataBody {
            r#type: "text".to_owned(),
            content: Some(v3::log_data_body::Content::Text(v3::TextLog {
                text: item.body.clone(),
            })),
        }),
        trace_context,
        tags: Some(v3::LogTags { data: tags }),
        layer: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogLevel;
    use crate::logs::ids::LogContext;

    #[test]
    fn a_record_outside_a_trace_has_no_trace_context() {
        let item = LogItem {
            time: clock::now_raw(),
            level: LogLevel::Error,
            logger: "app::db".into(),
            file: Some("src/db.rs".into()),
            line: Some(12),
            body: "connection lost".to_owned(),
            tags: vec![("attempt".into(), "3".into())],
            context: LogContext::default(),
            endpoint: None,
        };
        let identity = Identity {
            service: "svc".into(),
            instance: "i-1".into(),
        };
        let data = log(&item, &identity);
        assert_eq!(data.service, "svc");
        assert_eq!(data.service_instance, "i-1");
        assert!(data.trace_context.is_none());
        assert!(data.timestamp > 0);
        let tags: Vec<(String, String)> = data
            .tags
            .unwrap()
            .data
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect();
        let expected = [
            ("level", "ERROR"),
            ("logger", "app::db"),
            ("file", "src/db.rs"),
            ("line", "12"),
            ("attempt", "3"),
        ];
        assert_eq!(
            tags,
            expected
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        );
        match data.body.unwrap().content.unwrap() {
            v3::log_data_body::Content::Text(text) => assert_eq!(text.text, "connection lost"),
            other => panic!("not text: {other:?}"),
        }
    }
}

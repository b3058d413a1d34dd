//! The agent's own counters ([`crate::stats()`]) as Prometheus counters, read at scrape
//! time: they say how much of the traffic the span metrics may have missed (segments
//! dropped on a full queue never reach the reporter thread).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

/// Encodes a snapshot of [`crate::stats()`] on every scrape.
#[derive(Debug)]
pub(crate) struct AgentStats;

impl Collector for AgentStats {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = crate::stats::stats();
        let counters = [
            (
                "skywalking_agent_spans",
                "Spans recorded in finished segments.",
                stats.spans_started,
            ),
            (
                "skywalking_agent_segments_queued",
                "Segments put on the reporter queue.",
                stats.segments_queued,
            ),
            (
                "skywalking_agent_segments_sent",
                "Segments the collector accepted.",
                stats.segments_sent,
            ),
            (
                "skywalking_agent_segments_dropped",
                "Segments dropped: the queue was full (never counted in skywalking_calls_total), \
                 or the collector was unreachable or failed the call.",
                stats.segments_dropped,
            ),
            (
                "skywalking_agent_traces_unsampled",
                "Traces not sampled (counted in skywalking_calls_total only when \
                 SW_AGENT_KEEP_ERRORS or SW_AGENT_KEEP_SLOW_MS records them).",
                stats.traces_unsampled,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

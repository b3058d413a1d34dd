//! `sw-collector`: a standalone mock SkyWalking OAP that prints what agents send.
//!
//! ```text
//! sw-collector [--listen ADDR | ADDR]     (default 127.0.0.1:11800)
//! ```
//!
//! Each trace is printed as an indented tree once its segments have been quiet for a
//! second, so a whole distributed trace prints at once. Instance properties, pings,
//! logs, meters, events and configuration requests get one line each. Ctrl-C stops it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use skywalking_proto::v3::log_data_body::Content;
use skywalking_proto::v3::meter_data::Metric;
use skywalking_proto::v3::{LogData, MeterData, SegmentObject};
use skywalking_testkit::{MockCollector, Records, render_trace_tree};
use tokio::time::Instant;

const DEFAULT_LISTEN: &str = "127.0.0.1:11800";
const USAGE: &str = "usage: sw-collector [--listen ADDR | ADDR]   (default 127.0.0.1:11800)";
/// A trace prints once no segment of it arrived for this long.
const QUIET: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(200);

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match parse_args(std::env::args().skip(1)) {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            say(USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("sw-collector: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let collector = match MockCollector::builder().bind(addr).start().await {
        Ok(collector) => collector,
        Err(e) => {
            eprintln!("sw-collector: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    say(&format!(
        "sw-collector listening on {} (SkyWalking v3 gRPC); Ctrl-C to stop",
        collector.addr()
    ));

    let mut traces = Traces::default();
    let mut ticker = tokio::time::interval(TICK);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = ticker.tick() => {
                traces.take_from(&collector);
                traces.print_quiet(Some(QUIET));
            }
        }
    }
    collector.stop().await;
    traces.take_from(&collector);
    traces.print_quiet(None);
    say("sw-collector stopped");
    ExitCode::SUCCESS
}

/// `Ok(None)` means help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<SocketAddr>, String> {
    let mut listen: Option<String> = None;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" | "-l" => args
                .next()
                .ok_or_else(|| format!("{arg} needs an address"))?,
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => other.to_owned(),
        };
        if listen.replace(value).is_some() {
            return Err("more than one listen address".to_owned());
        }
    }
    let listen = listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    listen
        .parse()
        .map(Some)
        .map_err(|_| format!("not an address (want IP:PORT): {listen}"))
}

/// Prints a line; a closed stdout is not worth a panic.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Segments waiting for their trace to go quiet, by trace id, in arrival order.
#[derive(Default)]
struct Traces {
    pending: Vec<(String, Vec<SegmentObject>, Instant)>,
}

impl Traces {
    /// Drains the collector: notes are printed now, segments wait for their trace.
    fn take_from(&mut self, collector: &MockCollector) {
        let records = collector.take();
        print_notes(&records);
        let now = Instant::now();
        for segment in records.segments {
            match self
                .pending
                .iter_mut()
                .find(|(id, ..)| *id == segment.trace_id)
            {
                Some((_, segments, last)) => {
                    segments.push(segment);
                    *last = now;
                }
                None => self
                    .pending
                    .push((segment.trace_id.clone(), vec![segment], now)),
            }
        }
    }

    /// Prints (and forgets) the traces quiet for at least `quiet`; all with `None`.
    fn print_quiet(&mut self, quiet: Option<Duration>) {
        let (ready, waiting) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(.., last)| quiet.is_none_or(|quiet| last.elapsed() >= quiet));
        self.pending = waiting;
        for (trace_id, segments, _) in ready {
            let count = segments.len();
            let mut text = format!(
                "trace {trace_id} ({count} segment{})\n",
                if count == 1 { "" } else { "s" }
            );
            for line in render_trace_tree(&segments).lines() {
                let _ = writeln!(text, "  {line}");
            }
            say(text.trim_end());
        }
    }
}

fn print_notes(records: &Records) {
    for p in &records.properties {
        let properties: Vec<String> = p
            .properties
            .iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect();
        say(&format!(
            "properties {}/{}: {}",
            p.service,
            p.service_instance,
            properties.join(", ")
        ));
    }
    for ping in &records.pings {
        say(&format!("ping {}/{}", ping.service, ping.service_instance));
    }
    for log in &records.logs {
        say(&log_line(log));
    }
    for meter in &records.meters {
        say(&meter_line(meter));
    }
    for event in &records.events {
        say(&format!("event {}: {}", event.name, event.message));
    }
    for request in &records.configuration_requests {
        say(&format!("configuration request from {}", request.service));
    }
}

fn log_line(log: &LogData) -> String {
    let body = match log.body.as_ref().and_then(|b| b.content.as_ref()) {
        Some(Content::Text(text)) => text.text.as_str(),
        Some(Content::Json(json)) => json.json.as_str(),
        Some(Content::Yaml(yaml)) => yaml.yaml.as_str(),
        None => "",
    };
    match &log.trace_context {
        Some(context) if !context.trace_id.is_empty() => {
            format!("log {} [trace {}]: {body}", log.service, context.trace_id)
        }
        _ => format!("log {}: {body}", log.service),
    }
}

fn meter_line(meter: &MeterData) -> String {
    match &meter.metric {
        Some(Metric::SingleValue(single)) => format!("meter {} = {}", single.name, single.value),
        Some(Metric::Histogram(histogram)) => {
            let total: i64 = histogram.values.iter().map(|b| b.count).sum();
            format!(
                "meter {}: histogram, {} buckets, {total} samples",
                histogram.name,
                histogram.values.len()
            )
        }
        None => "meter (empty)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_the_listen_address() {
        let default: SocketAddr = DEFAULT_LISTEN.parse().unwrap();
        assert_eq!(parse_args(args(&[])), Ok(Some(default)));
        let addr: SocketAddr = "0.0.0.0:1234".parse().unwrap();
        assert_eq!(parse_args(args(&["0.0.0.0:1234"])), Ok(Some(addr)));
        assert_eq!(
            parse_args(args(&["--listen", "0.0.0.0:1234"])),
            Ok(Some(addr))
        );
        assert_eq!(parse_args(args(&["--help"])), Ok(None));
        assert!(parse_args(args(&["--listen"])).is_err());
        assert!(parse_args(args(&["nonsense"])).is_err());
        assert!(parse_args(args(&["--verbose"])).is_err());
        assert!(parse_args(args(&["1.2.3.4:1", "1.2.3.4:2"])).is_err());
    }
}

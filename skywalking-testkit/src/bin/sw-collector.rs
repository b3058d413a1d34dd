//! `sw-collector`: a standalone mock SkyWalking OAP that prints what agents send.
//!
//! ```text
//! sw-collector [--listen ADDR | ADDR]     (default 127.0.0.1:11800)
//! sw-collector --kafka HOST:PORT [--namespace NS]
//! ```
//!
//! Each trace is printed as an indented tree once its segments have been quiet for a
//! second, so a whole distributed trace prints at once. Instance properties, pings,
//! logs, meters, events and configuration requests get one line each. Ctrl-C stops it.
//!
//! With `--kafka` (built with the testkit's `kafka` feature) it listens on nothing: it
//! reads the topics an agent with `SW_AGENT_PROTOCOL=kafka` writes to (OAP's
//! kafka-fetcher topics, `<NS>-skywalking-segments` etc. with a namespace), from their
//! start, and prints the same way. It creates no topic.

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
const USAGE: &str = "usage: sw-collector [--listen ADDR | ADDR]   (default 127.0.0.1:11800)\n       \
                     sw-collector --kafka HOST:PORT[,HOST:PORT...] [--namespace NS]";
/// A trace prints once no segment of it arrived for this long.
const QUIET: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(200);

/// What to read from.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    /// Listen for gRPC.
    Grpc(SocketAddr),
    /// Read Kafka topics.
    Kafka {
        bootstrap: String,
        namespace: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match parse_args(std::env::args().skip(1)) {
        Ok(Some(Source::Grpc(addr))) => addr,
        Ok(Some(Source::Kafka {
            bootstrap,
            namespace,
        })) => return kafka_mode(&bootstrap, namespace.as_deref()).await,
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
                traces.take(collector.take());
                traces.print_quiet(Some(QUIET));
            }
        }
    }
    collector.stop().await;
    traces.take(collector.take());
    traces.print_quiet(None);
    say("sw-collector stopped");
    ExitCode::SUCCESS
}

/// Reads the Kafka topics until Ctrl-C, printing as the gRPC mode does.
#[cfg(feature = "kafka")]
async fn kafka_mode(bootstrap: &str, namespace: Option<&str>) -> ExitCode {
    use skywalking_testkit::kafka::{KafkaConsumer, Topics};

    let topics = Topics::new(namespace);
    let mut consumer = match KafkaConsumer::connect(bootstrap, topics.clone()).await {
        Ok(consumer) => consumer,
        Err(e) => {
            eprintln!("sw-collector: {bootstrap}: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    };
    say(&format!(
        "sw-collector reading Kafka at {bootstrap}: {}, {}, {}, {}; Ctrl-C to stop",
        topics.segments, topics.management, topics.meters, topics.logs
    ));
    let mut traces = Traces::default();
    let mut ticker = tokio::time::interval(TICK);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = ticker.tick() => {
                match consumer.poll().await {
                    Ok(consumed) => {
                        failing = false;
                        for (topic, key, error) in &consumed.undecodable {
                            say(&format!("undecodable record on {topic} (key {key:?}): {error}"));
                        }
                        traces.take(consumed.to_records());
                    }
                    Err(e) if !failing => {
                        failing = true;
                        eprintln!("sw-collector: {}; retrying", error_chain(&e));
                    }
                    Err(_) => {}
                }
                traces.print_quiet(Some(QUIET));
            }
        }
    }
    traces.print_quiet(None);
    say("sw-collector stopped");
    ExitCode::SUCCESS
}

#[cfg(not(feature = "kafka"))]
async fn kafka_mode(_bootstrap: &str, _namespace: Option<&str>) -> ExitCode {
    eprintln!(
        "sw-collector: --kafka needs the testkit's `kafka` feature: \
         cargo run -p skywalking-testkit --features kafka --bin sw-collector -- --kafka HOST:PORT"
    );
    ExitCode::from(2)
}

/// `Ok(None)` means help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Source>, String> {
    let mut listen: Option<String> = None;
    let mut kafka: Option<String> = None;
    let mut namespace: Option<String> = None;
    while let Some(arg) = args.next() {
        let mut value_of = |what: &str| {
            args.next()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{arg} needs {what}"))
        };
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" | "-l" => value_of("an address")?,
            "--kafka" => {
                let brokers = value_of("a broker list (HOST:PORT)")?;
                if kafka.replace(brokers).is_some() {
                    return Err("more than one --kafka".to_owned());
                }
                continue;
            }
            "--namespace" | "--kafka-namespace" => {
                let ns = value_of("a namespace")?;
                if namespace.replace(ns).is_some() {
                    return Err("more than one --namespace".to_owned());
                }
                continue;
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => other.to_owned(),
        };
        if listen.replace(value).is_some() {
            return Err("more than one listen address".to_owned());
        }
    }
    if let Some(bootstrap) = kafka {
        if listen.is_some() {
            return Err(
                "--kafka reads topics and listens on nothing: no listen address with it".to_owned(),
            );
        }
        let malformed = bootstrap.split(',').map(str::trim).any(|broker| {
            broker
                .rsplit_once(':')
                .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
        });
        if malformed {
            return Err(format!(
                "not a broker list (want HOST:PORT[,HOST:PORT]): {bootstrap}"
            ));
        }
        return Ok(Some(Source::Kafka {
            bootstrap,
            namespace,
        }));
    }
    if namespace.is_some() {
        return Err("--namespace goes with --kafka".to_owned());
    }
    let listen = listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    listen
        .parse()
        .map(|addr| Some(Source::Grpc(addr)))
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
    /// Takes what arrived: notes are printed now, segments wait for their trace.
    fn take(&mut self, records: Records) {
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
        assert_eq!(parse_args(args(&[])), Ok(Some(Source::Grpc(default))));
        let addr: SocketAddr = "0.0.0.0:1234".parse().unwrap();
        assert_eq!(
            parse_args(args(&["0.0.0.0:1234"])),
            Ok(Some(Source::Grpc(addr)))
        );
        assert_eq!(
            parse_args(args(&["--listen", "0.0.0.0:1234"])),
            Ok(Some(Source::Grpc(addr)))
        );
        assert_eq!(parse_args(args(&["--help"])), Ok(None));
        assert!(parse_args(args(&["--listen"])).is_err());
        assert!(parse_args(args(&["nonsense"])).is_err());
        assert!(parse_args(args(&["--verbose"])).is_err());
        assert!(parse_args(args(&["1.2.3.4:1", "1.2.3.4:2"])).is_err());
    }

    #[test]
    fn parses_the_kafka_mode() {
        assert_eq!(
            parse_args(args(&["--kafka", "k1:9092,k2:9092", "--namespace", "prod"])),
            Ok(Some(Source::Kafka {
                bootstrap: "k1:9092,k2:9092".to_owned(),
                namespace: Some("prod".to_owned()),
            }))
        );
        assert_eq!(
            parse_args(args(&["--kafka", "127.0.0.1:9092"])),
            Ok(Some(Source::Kafka {
                bootstrap: "127.0.0.1:9092".to_owned(),
                namespace: None,
            }))
        );
        assert!(parse_args(args(&["--kafka"])).is_err());
        assert!(parse_args(args(&["--kafka", "nohost"])).is_err());
        assert!(parse_args(args(&["--kafka", "k:1", "0.0.0.0:1"])).is_err());
        assert!(parse_args(args(&["--namespace", "prod"])).is_err());
    }
}

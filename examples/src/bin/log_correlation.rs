//! Log correlation: log lines carry the SkyWalking trace ids, the `tracing` spans of the
//! program become spans of its traces, and log records reach OAP with the trace context
//! they were written in, so each trace can be read next to its logs.
//!
//! The program handles three orders. Each one is a trace: a `#[sw::trace]` entry point
//! calls `#[tracing::instrument]` functions (which become child local spans) that write
//! `tracing` events and `log` records. Every line printed while it runs starts with
//! `[tid=… sid=… spid=…]`; lines written outside a trace show `N/A`. At the end, each
//! trace is printed as a tree with the log records OAP received for it, each naming the
//! span it was written in.
//!
//! With no `SW_AGENT_COLLECTOR_BACKEND_SERVICES` set, it reports to the testkit's mock
//! OAP, started in-process; with it set, to that OAP (look the trace ids up in the UI).
//!
//! Run: `cargo run -p skywalking-examples --bin log_correlation`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use skywalking_proto::v3::log_data_body::Content;
use skywalking_proto::v3::{LogData, SegmentObject};
use skywalking_testkit::MockCollector;
use sw::integrations::log::SkyWalkingLogger;
use sw::integrations::tracing::{TracingLayer, WithTraceIds};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const BACKEND_VAR: &str = "SW_AGENT_COLLECTOR_BACKEND_SERVICES";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The `log` crate's records, printed on stdout (any `log::Log` would do).
struct Stdout;

impl log::Log for Stdout {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        // The wrapper has put the ids in front of the message already.
        println!(
            "{:>5} {} (log): {}",
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

#[tracing::instrument(skip_all, fields(sku))]
async fn check_stock(sku: &str, quantity: u32) -> bool {
    tokio::time::sleep(Duration::from_millis(3)).await;
    let in_stock = quantity <= 5;
    if in_stock {
        tracing::info!(sku, quantity, "reserved");
    } else {
        tracing::warn!(sku, quantity, "not enough stock");
    }
    in_stock
}

#[tracing::instrument(skip_all)]
async fn charge(order: u64, amount_cents: u64) -> Result<(), String> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if amount_cents > 10_000 {
        log::error!("card declined for order {order} ({amount_cents} cents)");
        return Err("card declined".to_owned());
    }
    log::info!("charged {amount_cents} cents for order {order}");
    Ok(())
}

/// One order: the root span of its trace.
#[sw::trace(name = "handle_order")]
async fn handle_order(order: u64, sku: &'static str, quantity: u32) -> String {
    tracing::info!(order, "order received");
    let trace_id = sw::trace_id().map(|id| id.to_string()).unwrap_or_default();
    if check_stock(sku, quantity).await
        && let Err(error) = charge(order, u64::from(quantity) * 4_000).await
    {
        tracing::error!(order, %error, "order failed");
    }
    trace_id
}

fn body(log: &LogData) -> &str {
    match log.body.as_ref().and_then(|b| b.content.as_ref()) {
        Some(Content::Text(text)) => &text.text,
        _ => "",
    }
}

fn tag<'a>(log: &'a LogData, key: &str) -> &'a str {
    log.tags
        .as_ref()
        .and_then(|t| t.data.iter().find(|kv| kv.key == key))
        .map_or("", |kv| kv.value.as_str())
}

/// Prints each trace's tree and the logs written in it.
fn print_traces(collector: &MockCollector, traces: &[String]) {
    let logs = collector.logs();
    for trace in traces {
        let segments = collector.trace(trace);
        let spans: HashMap<(&str, i32), &str> = segments
            .iter()
            .flat_map(|s: &SegmentObject| {
                s.spans.iter().map(move |span| {
                    (
                        (s.trace_segment_id.as_str(), span.span_id),
                        span.operation_name.as_str(),
                    )
                })
            })
            .collect();
        println!("\ntrace {trace}");
        print!("{}", collector.trace_tree(trace));
        println!("  logs of this trace:");
        for log in &logs {
            let Some(context) = log.trace_context.as_ref().filter(|c| &c.trace_id == trace) else {
                continue;
            };
            let span = spans
                .get(&(context.trace_segment_id.as_str(), context.span_id))
                .copied()
                .unwrap_or("?");
            println!(
                "    {:>5} in span #{} {span}: {}",
                tag(log, "level"),
                context.span_id,
                body(log)
            );
        }
    }
    let outside: Vec<&LogData> = logs.iter().filter(|l| l.trace_context.is_none()).collect();
    println!("\nlogs outside any trace:");
    for log in outside {
        println!("    {:>5} {}", tag(log, "level"), body(log));
    }
}

async fn run() -> Result<(), Error> {
    let external = std::env::var(BACKEND_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let collector = match external {
        Some(_) => None,
        None => Some(MockCollector::start().await?),
    };
    let mut agent = sw::Agent::builder()
        .service("log-correlation")
        .log_reporter_level(sw::LogLevel::Info);
    if let Some(collector) = &collector {
        agent = agent.backend(collector.addr().to_string());
    }
    let agent = agent.start()?;

    // `tracing`: spans into SkyWalking, events reported, ids on every printed line.
    tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(TracingLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .event_format(WithTraceIds::new(
                    tracing_subscriber::fmt::format()
                        .without_time()
                        .with_ansi(false),
                )),
        )
        .try_init()?;
    // `log`: the same ids in front of each message, records reported.
    SkyWalkingLogger::new(Stdout).init(log::LevelFilter::Info)?;

    println!("-- log lines, as the program writes them --");
    tracing::info!("starting: no trace yet");
    let mut traces = Vec::new();
    for (order, sku, quantity) in [(1001, "tea", 2), (1002, "mug", 9), (1003, "kettle", 3)] {
        traces.push(handle_order(order, sku, quantity).await);
    }
    log::warn!("all orders handled");

    // Blocking calls: off the runtime's worker, which may serve the embedded collector.
    if !tokio::task::block_in_place(|| agent.flush(Duration::from_secs(5))) {
        eprintln!("log_correlation: not everything was sent within 5 s");
    }
    match &collector {
        Some(collector) => {
            let expected_logs = traces.len();
            collector
                .wait_until(Duration::from_secs(5), |records| {
                    let traced = traces
                        .iter()
                        .filter(|t| records.segments.iter().any(|s| &s.trace_id == *t))
                        .count();
                    (traced == traces.len() && records.logs.len() >= expected_logs).then_some(())
                })
                .await?;
            println!("\n-- what the collector received --");
            print_traces(collector, &traces);
        }
        None => {
            println!("\nlook these traces up in the SkyWalking UI, with their logs:");
            for trace in &traces {
                println!("  {trace}");
            }
        }
    }
    tokio::task::block_in_place(|| drop(agent));
    Ok(())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("log_correlation: cannot start a tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("log_correlation: {error}");
            ExitCode::FAILURE
        }
    }
}

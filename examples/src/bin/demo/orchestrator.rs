//! Starts the collector (unless a real OAP is configured) and the three services, sends
//! a few requests through them, and prints the resulting traces.
//!
//! With `SW_AGENT_PROTOCOL=kafka` (and `SW_KAFKA_BOOTSTRAP_SERVERS`, default
//! `localhost:9092`; `SW_KAFKA_NAMESPACE` if OAP uses one) the services report through
//! Kafka instead: the demo creates the topics OAP's kafka-fetcher would (when missing),
//! and once the services have stopped it reads the traces back from the broker with the
//! testkit's Kafka consumer.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use skywalking_testkit::MockCollector;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::service::Error;

const BACKEND_VAR: &str = "SW_AGENT_COLLECTOR_BACKEND_SERVICES";
const PROTOCOL_VAR: &str = "SW_AGENT_PROTOCOL";
const KAFKA_VAR: &str = "SW_KAFKA_BOOTSTRAP_SERVERS";
const KAFKA_NAMESPACE_VAR: &str = "SW_KAFKA_NAMESPACE";
const ORDERS: [&str; 3] = ["1001", "1002", "1003"];

/// A service process, stopped (gracefully: it flushes its spans) when dropped.
struct Service {
    name: &'static str,
    child: Child,
    addr: String,
}

impl Service {
    /// Starts `demo <name> <args>`, reporting to `collector` (through Kafka, from the
    /// inherited environment, when `None`).
    async fn spawn(
        name: &'static str,
        args: &[&str],
        collector: Option<&str>,
    ) -> Result<Service, Error> {
        let mut command = Command::new(std::env::current_exe()?);
        if let Some(collector) = collector {
            command.env(BACKEND_VAR, collector);
        }
        let mut child = command
            .arg(name)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .map_err(|_| format!("{name} did not start within 30 s"))??
            .ok_or_else(|| format!("{name} exited before it was ready"))?;
        let addr = line
            .strip_prefix("READY ")
            .ok_or_else(|| format!("{name} said {line:?} instead of READY <addr>"))?
            .to_owned();
        Ok(Service { name, child, addr })
    }

    /// Closes the service's stdin, its signal to stop, and waits for it to exit.
    async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("demo: {} did not stop within 10 s; killing it", self.name);
            let _ = self.child.kill().await;
        }
    }
}

/// The environment's value of `name`, if set and not blank.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The Kafka brokers and namespace, when `SW_AGENT_PROTOCOL` (or the Go agent's
/// `SW_AGENT_REPORTER_TYPE`) is `kafka`.
fn kafka() -> Option<(String, Option<String>)> {
    let protocol = var(PROTOCOL_VAR).or_else(|| var("SW_AGENT_REPORTER_TYPE"))?;
    protocol.trim().eq_ignore_ascii_case("kafka").then(|| {
        let brokers = var(KAFKA_VAR)
            .or_else(|| var("SW_AGENT_REPORTER_KAFKA_BROKERS"))
            .unwrap_or_else(|| "localhost:9092".to_owned());
        (brokers, var(KAFKA_NAMESPACE_VAR))
    })
}

pub(crate) async fn run() -> Result<(), Error> {
    if let Some((brokers, namespace)) = kafka() {
        return run_kafka(&brokers, namespace.as_deref()).await;
    }
    let external = std::env::var(BACKEND_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let collector = match &external {
        Some(_) => None,
        None => Some(MockCollector::start().await?),
    };
    let collector_addr = match (&external, &collector) {
        (Some(addr), _) => addr.clone(),
        (None, Some(collector)) => collector.addr().to_string(),
        (None, None) => unreachable!("a collector was started above"),
    };
    match &external {
        Some(addr) => println!("Reporting to the SkyWalking OAP at {addr} ({BACKEND_VAR})."),
        None => println!(
            "No {BACKEND_VAR} set: started an embedded collector on {collector_addr}.\n\
             Set it to a real OAP (host:11800) to report there instead."
        ),
    }

    let payments = Service::spawn("payments", &[], Some(&collector_addr)).await?;
    let backend = Service::spawn("backend", &[&payments.addr], Some(&collector_addr)).await?;
    let frontend = Service::spawn("frontend", &[&backend.addr], Some(&collector_addr)).await?;
    let traces = checkout(&payments, &backend, &frontend).await?;

    match &collector {
        Some(collector) => print_traces(collector, &traces).await?,
        None => {
            println!("Trace ids (search them in the SkyWalking UI):");
            for trace in &traces {
                println!("  {trace}");
            }
        }
    }

    // Stop the callers first, so every span reaches the collector.
    frontend.stop().await;
    backend.stop().await;
    payments.stop().await;
    Ok(())
}

/// The demo over Kafka: the services report to `brokers`, then the traces are read back
/// from the topics.
async fn run_kafka(brokers: &str, namespace: Option<&str>) -> Result<(), Error> {
    use skywalking_testkit::kafka::{KafkaConsumer, OAP_PARTITIONS, Topics, create_topics};

    let topics = Topics::new(namespace);
    create_topics(brokers, &topics, OAP_PARTITIONS).await?;
    println!(
        "Reporting through Kafka at {brokers} ({PROTOCOL_VAR}=kafka): topics {}, {}, {}, {}.",
        topics.segments, topics.management, topics.meters, topics.logs
    );
    let payments = Service::spawn("payments", &[], None).await?;
    let backend = Service::spawn("backend", &[&payments.addr], None).await?;
    let frontend = Service::spawn("frontend", &[&backend.addr], None).await?;
    let traces = checkout(&payments, &backend, &frontend).await?;
    // Stopping flushes each service's spans to the broker.
    frontend.stop().await;
    backend.stop().await;
    payments.stop().await;

    let mut consumer = KafkaConsumer::connect(brokers, topics).await?;
    let complete = |segments: &[(String, skywalking_proto::v3::SegmentObject)]| {
        traces.iter().all(|trace| {
            segments
                .iter()
                .filter(|(_, s)| &s.trace_id == trace)
                .count()
                >= 3
        })
    };
    let consumed = consumer
        .poll_until(Duration::from_secs(15), |c| complete(&c.segments))
        .await?;
    println!(
        "Read back from Kafka: {} segments, {} instance properties, {} pings, {} logs, {} \
         meter collections.",
        consumed.segments.len(),
        consumed.properties.len(),
        consumed.pings.len(),
        consumed.logs.len(),
        consumed.meters.len()
    );
    for trace in &traces {
        let segments: Vec<_> = consumed
            .segments
            .iter()
            .filter(|(_, s)| &s.trace_id == trace)
            .map(|(_, s)| s.clone())
            .collect();
        let services: BTreeSet<&str> = segments.iter().map(|s| s.service.as_str()).collect();
        println!(
            "trace {trace}: {} segments across {} services ({})",
            segments.len(),
            services.len(),
            services.into_iter().collect::<Vec<_>>().join(", ")
        );
        println!("{}", skywalking_testkit::render_trace_tree(&segments));
    }
    println!(
        "Watch the topics live with: cargo run -p skywalking-testkit --features kafka \
         --bin sw-collector -- --kafka {brokers}{}",
        namespace
            .map(|ns| format!(" --namespace {ns}"))
            .unwrap_or_default()
    );
    Ok(())
}

/// Sends the orders through the frontend; returns the trace ids the frontend answered.
async fn checkout(
    payments: &Service,
    backend: &Service,
    frontend: &Service,
) -> Result<Vec<String>, Error> {
    println!(
        "Services: frontend {} -> backend {} -> payments {} (gRPC)\n",
        frontend.addr, backend.addr, payments.addr
    );

    let client = reqwest::Client::new();
    let mut traces = Vec::new();
    for order in ORDERS {
        let response = client
            .get(format!("http://{}/checkout/{order}", frontend.addr))
            .send()
            .await?;
        let trace = response
            .headers()
            .get("x-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = response.status();
        let body = response.text().await?;
        println!("GET /checkout/{order} -> {status}: {body}");
        if let Some(trace) = trace {
            traces.push(trace);
        }
    }
    println!();
    Ok(traces)
}

async fn print_traces(collector: &MockCollector, traces: &[String]) -> Result<(), Error> {
    for trace in traces {
        // frontend, backend and payments: one segment each.
        let segments = collector
            .wait_for_trace(trace, 3, Duration::from_secs(15))
            .await?;
        let services: BTreeSet<&str> = segments.iter().map(|s| s.service.as_str()).collect();
        println!(
            "trace {trace}: {} segments across {} services ({})",
            segments.len(),
            services.len(),
            services.into_iter().collect::<Vec<_>>().join(", ")
        );
        println!("{}", collector.trace_tree(trace));
    }
    Ok(())
}

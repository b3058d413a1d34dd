//! Starts the collector (unless a real OAP is configured) and the three services, sends
//! a few requests through them, and prints the resulting traces.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use skywalking_testkit::MockCollector;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::service::Error;

const BACKEND_VAR: &str = "SW_AGENT_COLLECTOR_BACKEND_SERVICES";
const ORDERS: [&str; 3] = ["1001", "1002", "1003"];

/// A service process, stopped (gracefully: it flushes its spans) when dropped.
struct Service {
    name: &'static str,
    child: Child,
    addr: String,
}

impl Service {
    async fn spawn(name: &'static str, args: &[&str], collector: &str) -> Result<Service, Error> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(name)
            .args(args)
            .env(BACKEND_VAR, collector)
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

pub(crate) async fn run() -> Result<(), Error> {
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

    let payments = Service::spawn("payments", &[], &collector_addr).await?;
    let backend = Service::spawn("backend", &[&payments.addr], &collector_addr).await?;
    let frontend = Service::spawn("frontend", &[&backend.addr], &collector_addr).await?;
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

//! What every demo service does around its own work: start the agent, say where it
//! listens, and stop (flushing its spans) when the orchestrator closes its stdin.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// Starts the agent as `service`, reporting where `SW_AGENT_COLLECTOR_BACKEND_SERVICES`
/// says (the orchestrator sets it).
///
/// With `SW_AGENT_PROMETHEUS_LISTEN=ip:port` each service serves its Prometheus metrics
/// at `http://ip:<port + n>/metrics`, n = 0 for the frontend, 1 for the backend and 2
/// for payments (three processes cannot share one port), and prints them when it stops.
pub(crate) fn start_agent(service: &str) -> Result<sw::Agent, Error> {
    let mut builder = sw::Agent::builder()
        .service(service)
        .instance(format!("{service}-1"));
    if let Some(listen) = std::env::var("SW_AGENT_PROMETHEUS_LISTEN")
        .ok()
        .and_then(|v| v.trim().parse::<SocketAddr>().ok())
    {
        let n = ["frontend", "backend", "payments"]
            .iter()
            .position(|s| *s == service)
            .unwrap_or(0) as u16;
        let addr = SocketAddr::new(listen.ip(), listen.port().saturating_add(n));
        eprintln!("demo: {service} serves its metrics at http://{addr}/metrics");
        builder = builder.prometheus_listen(addr.to_string());
    }
    Ok(builder.start()?)
}

/// Tells the orchestrator the service is up.
pub(crate) fn ready(addr: SocketAddr) {
    println!("READY {addr}");
}

/// Resolves when the orchestrator closes this process's stdin.
pub(crate) async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
    // The span metrics of this service's requests, when it serves them.
    if sw::prometheus::local_addr().is_some() {
        let text = sw::prometheus::encode(sw::prometheus::Format::Text).unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with("skywalking_call")) {
            if !line.contains("_bucket{") {
                eprintln!("{line}");
            }
        }
    }
}

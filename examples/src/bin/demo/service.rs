//! What every demo service does around its own work: start the agent, say where it
//! listens, and stop (flushing its spans) when the orchestrator closes its stdin.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// Starts the agent as `service`, reporting where `SW_AGENT_COLLECTOR_BACKEND_SERVICES`
/// says (the orchestrator sets it).
pub(crate) fn start_agent(service: &str) -> Result<sw::Agent, Error> {
    Ok(sw::Agent::builder()
        .service(service)
        .instance(format!("{service}-1"))
        .start()?)
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
}

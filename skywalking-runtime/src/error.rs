//! Errors of the agent's setup. The hot path has none: it degrades to no-ops.

/// What can go wrong when starting the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An agent is already running in this process.
    #[error("a SkyWalking agent is already running in this process")]
    AlreadyStarted,
    /// No reporter was configured.
    #[error("no reporter configured: call AgentBuilder::reporter")]
    NoReporter,
    /// The reporter thread could not be started.
    #[error("cannot start the skywalking-reporter thread: {0}")]
    Thread(#[source] std::io::Error),
    /// A lock was poisoned by a panic in another thread.
    #[error("the agent's state lock is poisoned")]
    Poisoned,
}

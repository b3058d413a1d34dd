//! Errors of the agent's setup. The hot path has none: it degrades to no-ops, and the
//! reporter's failures are counted in [`crate::stats()`] and logged, never returned.

use std::path::PathBuf;

/// What can go wrong when configuring or starting the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An agent is already running in this process.
    #[error("a SkyWalking agent is already running in this process")]
    AlreadyStarted,
    /// No reporter was configured and the `grpc` feature (the default reporter) is off.
    #[error(
        "no reporter configured: call AgentBuilder::reporter, or enable the `grpc` feature \
         for the default gRPC reporter"
    )]
    NoReporter,
    /// A configuration value does not parse or does not fit with the others.
    #[error("{variable}={value:?} is invalid: expected {expected}")]
    Config {
        /// The environment variable (or the one a builder method stands for).
        variable: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A TLS file named in the configuration cannot be used.
    #[error("{variable}: cannot use {path:?}: {reason}")]
    TlsFile {
        /// The variable that names the file.
        variable: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The reporter thread (or its runtime) could not be started.
    #[error("cannot start the skywalking-reporter thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The metrics listener (feature `prometheus`) could not listen on its address.
    #[error("{variable}: cannot listen on {address}: {source}")]
    Listen {
        /// The variable that names the address.
        variable: &'static str,
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A lock was poisoned by a panic in another thread.
    #[error("the agent's state lock is poisoned")]
    Poisoned,
}

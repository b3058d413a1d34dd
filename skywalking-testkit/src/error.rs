//! The one error type of the crate.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// What can go wrong while starting the mock collector or waiting on what it records.
///
/// Calls that agents make never produce this type: the collector answers them with a
/// gRPC [`Status`](tonic::Status) instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound (after a few retries on "address in use").
    #[error("cannot bind the mock collector to {addr}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The I/O error from the last attempt.
        #[source]
        source: io::Error,
    },
    /// The TLS certificate, key or client CA was rejected.
    #[error("invalid TLS configuration for the mock collector")]
    Tls(#[source] tonic::transport::Error),
    /// [`client_ca`](crate::Builder::client_ca) was set without
    /// [`tls`](crate::Builder::tls): mutual TLS needs a server certificate first.
    #[error("`client_ca` needs `tls`: set a server certificate and key first")]
    ClientCaWithoutTls,
    /// A `wait_for_*` helper gave up before the data arrived.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout {
        /// What was awaited, and how much of it had arrived, in words.
        what: String,
        /// How long the helper waited.
        waited: Duration,
    },
}

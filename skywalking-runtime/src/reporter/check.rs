//! The backend check: for each configured collector address, whether it answers as an
//! OAP, and if not, why, in words an operator can act on.
//!
//! Each address goes through the steps a connection takes, and the first that fails is
//! the diagnosis:
//!
//! 1. **resolve** the host name (a failure: [`Diagnosis::DnsFailure`]);
//! 2. **connect** over TCP ([`Diagnosis::ConnectionRefused`], [`Diagnosis::Unreachable`]);
//! 3. **handshake**: TLS when it is on ([`Diagnosis::TlsHandshakeFailed`], with rustls'
//!    reason in words) and HTTP/2;
//! 4. **ask**: `ConfigurationDiscoveryService/fetchConfigurations` for the service, the
//!    call the agent repeats every 20 s anyway: it reads and changes nothing in OAP. If
//!    that service is unimplemented (an OAP without the configuration-discovery module),
//!    `ManagementService/keepAlive` for the agent's instance, which the reporter sends
//!    at once anyway. A refused token is [`Diagnosis::TokenRejected`]; both services
//!    unimplemented, or an answer that is not gRPC, is [`Diagnosis::NotOap`].
//!
//! Every step shares one deadline ([`Diagnosis::Timeout`] names the step it stopped
//! in), and the addresses are checked at the same time.
//!
//! The agent runs the check once at start on a thread of its own (`skywalking-check`),
//! never delaying the application, and logs one line per address: at `info` for a
//! usable one, at `warn` otherwise, naming the variable to look at. [`check_backend`]
//! gives the same report to a program, and the `sw-check` command to a shell.

use std::fmt;
use std::time::{Duration, Instant};

use skywalking_proto::v3::configuration_discovery_service_client::ConfigurationDiscoveryServiceClient;
use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_proto::v3::{ConfigurationSyncRequest, InstancePingPkg};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::grpc::{self, with_token};
use crate::config::{Config, strip_scheme};
use crate::diag::diag;
use crate::error::Error;
use crate::settings::Identity;

/// How long the agent's own check at start waits for each address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the check found at one collector address.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendStatus {
    /// The address as configured (`SW_AGENT_COLLECTOR_BACKEND_SERVICES`).
    pub address: String,
    /// What answered there, or why nothing usable did.
    pub diagnosis: Diagnosis,
}

impl BackendStatus {
    /// Whether the agent can report to this address: [`Diagnosis::Reachable`].
    pub fn is_usable(&self) -> bool {
        self.diagnosis.is_usable()
    }
}

/// `SkyWalking collector at <address>: <diagnosis>`.
impl fmt::Display for BackendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SkyWalking collector at {}: {}",
            self.address, self.diagnosis
        )
    }
}

/// The step of a connection the check was in when its time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckPhase {
    /// Resolving the host name.
    Resolving,
    /// Opening the TCP connection.
    Connecting,
    /// The TLS and HTTP/2 handshakes.
    Handshake,
    /// Waiting for the answer to the first call.
    Answering,
}

impl fmt::Display for CheckPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckPhase::Resolving => "resolving the host name",
            CheckPhase::Connecting => "connecting",
            CheckPhase::Handshake => "in the TLS/HTTP2 handshake",
            CheckPhase::Answering => "waiting for an answer",
        })
    }
}

/// One address's diagnosis. Its `Display` is a sentence saying what to check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnosis {
    /// It answers as an OAP: the agent can report there.
    Reachable {
        /// The time the check's call took, connection excluded.
        round_trip: Duration,
    },
    /// The host name does not resolve.
    DnsFailure {
        /// The resolver's error.
        reason: String,
    },
    /// The host answered that nothing listens on the port.
    ConnectionRefused,
    /// The TCP connection failed otherwise (no route, network unreachable, ...).
    Unreachable {
        /// The operating system's error.
        reason: String,
    },
    /// Nothing came back in time.
    Timeout {
        /// The step the check was in.
        phase: CheckPhase,
        /// How long it waited in all.
        waited: Duration,
    },
    /// The TLS handshake failed.
    TlsHandshakeFailed {
        /// Why, in words (the certificate's problem, or a peer without TLS), then
        /// rustls' own reason.
        reason: String,
    },
    /// OAP refused the call for its `authentication` token.
    TokenRejected {
        /// Whether a token was sent at all (`SW_AGENT_AUTHENTICATION`).
        token_set: bool,
        /// OAP's status message.
        message: String,
    },
    /// Something answers, but not as an OAP: its gRPC server implements neither the
    /// configuration discovery nor the management service, or it does not speak gRPC.
    NotOap {
        /// What it answered.
        reason: String,
    },
    /// It answered the call with another error (a proxy with no OAP behind it, an OAP
    /// failing).
    Failed {
        /// The gRPC status and message.
        reason: String,
    },
}

impl Diagnosis {
    /// Whether the agent can report to this address.
    pub fn is_usable(&self) -> bool {
        matches!(self, Diagnosis::Reachable { .. })
    }
}

const BACKENDS: &str = "SW_AGENT_COLLECTOR_BACKEND_SERVICES";

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnosis::Reachable { round_trip } => {
                write!(f, "answers as OAP (round trip {round_trip:.1?})")
            }
            Diagnosis::DnsFailure { reason } => write!(
                f,
                "the host name does not resolve ({reason}); check the host in {BACKENDS} \
                 (in Kubernetes, the OAP Service as <name>.<namespace>:11800)"
            ),
            Diagnosis::ConnectionRefused => write!(
                f,
                "connection refused: nothing listens on that port; check the port in \
                 {BACKENDS} (OAP's gRPC port is 11800) and that OAP is running"
            ),
            Diagnosis::Unreachable { reason } => write!(
                f,
                "cannot connect ({reason}); check {BACKENDS} and the network path \
                 (firewall, NetworkPolicy)"
            ),
            Diagnosis::Timeout { phase, waited } => write!(
                f,
                "no answer within {waited:?} ({phase}); check {BACKENDS}: the host may be \
                 down or a firewall drops the packets"
            ),
            Diagnosis::TlsHandshakeFailed { reason } => write!(
                f,
                "the TLS handshake did not complete: {reason}; check SW_AGENT_REPORTER_GRPC_TLS_CA_PATH \
                 (the CA that signed OAP's certificate; unset: the system's trust store) or, \
                 if OAP does not use TLS, turn off SW_AGENT_REPORTER_GRPC_TLS_ENABLE"
            ),
            Diagnosis::TokenRejected {
                token_set: true,
                message,
            } => write!(
                f,
                "OAP rejects the authentication token ({message}); set SW_AGENT_AUTHENTICATION \
                 to the value of OAP's SW_AUTHENTICATION"
            ),
            Diagnosis::TokenRejected {
                token_set: false,
                message,
            } => write!(
                f,
                "OAP requires an authentication token ({message}); set SW_AGENT_AUTHENTICATION \
                 to the value of OAP's SW_AUTHENTICATION"
            ),
            Diagnosis::NotOap { reason } => write!(
                f,
                "answers, but not as an OAP ({reason}); check that {BACKENDS} names OAP's gRPC \
                 port (11800, not the 12800 HTTP port), and SW_AGENT_REPORTER_GRPC_TLS_ENABLE \
                 if it serves TLS"
            ),
            Diagnosis::Failed { reason } => write!(
                f,
                "answers with an error ({reason}); check OAP's logs, or the proxy in front of it"
            ),
        }
    }
}

/// Checks every collector address of the environment's configuration
/// (`SW_AGENT_COLLECTOR_BACKEND_SERVICES`, with its token and TLS settings), waiting at
/// most `timeout` for each; see [`BackendStatus`] and [`Diagnosis`]. The same as
/// `Config::from_env()?.check_backends(timeout)`.
///
/// It blocks the calling thread (the addresses are checked at once, on a thread of its
/// own with its own small runtime), so it works with or without tokio: from async code,
/// call it in `tokio::task::spawn_blocking` so as not to hold a runtime thread. It does
/// not need (or touch) a running agent; the agent runs the same check at start and logs
/// the outcome.
///
/// ```no_run
/// use std::time::Duration;
///
/// let report = skywalking_runtime::check_backend(Duration::from_secs(3))?;
/// for backend in &report {
///     println!("{backend}");
/// }
/// if !report.iter().any(|b| b.is_usable()) {
///     eprintln!("no usable SkyWalking collector");
/// }
/// # Ok::<(), skywalking_runtime::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Config`] or [`Error::TlsFile`] for a configuration that does not parse or
/// is unusable, [`Error::Thread`] if the check's thread cannot be started.
pub fn check_backend(timeout: Duration) -> Result<Vec<BackendStatus>, Error> {
    Config::from_env()?.check_backends(timeout)
}

impl Config {
    /// Checks every collector address of this configuration, waiting at most `timeout`
    /// for each; see [`check_backend`].
    ///
    /// # Errors
    ///
    /// As [`check_backend`].
    pub fn check_backends(&self, timeout: Duration) -> Result<Vec<BackendStatus>, Error> {
        self.validate()?;
        let identity = Identity::new(
            self.service.clone(),
            self.instance
                .clone()
                .unwrap_or_else(super::management::default_instance_name),
        );
        let plan = Plan::new(self, identity)?;
        let thread = std::thread::Builder::new()
            .name("skywalking-check".into())
            .spawn(move || plan.run(timeout, None))
            .map_err(Error::Thread)?;
        thread
            .join()
            .map_err(|_| Error::Thread(std::io::Error::other("the check thread panicked")))?
    }
}

/// Runs the check on a thread of its own and logs one line per address; the caller
/// does not wait.
pub(crate) fn log_at_start(config: &Config, identity: Identity) {
    let plan = match Plan::new(config, identity) {
        Ok(plan) => plan,
        Err(e) => {
            diag!(Warn, "backend check skipped: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("skywalking-check".into())
        .spawn(move || {
            // Each line as soon as its address is diagnosed: a dead address is reported
            // at once, not after a slow one's timeout.
            let log: Each = std::sync::Arc::new(|status: &BackendStatus| {
                if status.is_usable() {
                    diag!(Info, "backend check: {status}");
                } else {
                    diag!(Warn, "backend check: {status}");
                }
            });
            if let Err(e) = plan.run(STARTUP_TIMEOUT, Some(log)) {
                diag!(Warn, "backend check failed to run: {e}");
            }
        });
    if let Err(e) = spawned {
        diag!(Warn, "backend check skipped: cannot start its thread: {e}");
    }
}

/// Called with each address's status as soon as it is known.
type Each = std::sync::Arc<dyn Fn(&BackendStatus) + Send + Sync>;

/// Everything the check needs, owned, for its thread.
struct Plan {
    backends: Vec<(String, Endpoint)>,
    tls: bool,
    token: Option<AsciiMetadataValue>,
    identity: Identity,
}

impl Plan {
    fn new(config: &Config, identity: Identity) -> Result<Plan, Error> {
        Ok(Plan {
            backends: grpc::backends(config)?
                .into_iter()
                .map(|b| (b.address, b.endpoint))
                .collect(),
            tls: config.tls_enabled(),
            token: grpc::token(config)?,
            identity,
        })
    }

    /// Checks every address at once on a new `current_thread` runtime.
    fn run(self, timeout: Duration, each: Option<Each>) -> Result<Vec<BackendStatus>, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_start(crate::logs::mute_this_thread)
            .build()
            .map_err(Error::Thread)?;
        crate::logs::mute_this_thread();
        let Plan {
            backends,
            tls,
            token,
            identity,
        } = self;
        Ok(runtime.block_on(async move {
            let deadline = tokio::time::Instant::from_std(crate::clock::deadline_after(timeout));
            let probe = Probe {
                tls,
                token,
                identity,
                deadline,
                timeout,
            };
            let checks: Vec<_> = backends
                .iter()
                .map(|(address, endpoint)| {
                    let probe = probe.clone();
                    let (address, endpoint) = (address.clone(), endpoint.clone());
                    let each = each.clone();
                    tokio::spawn(async move {
                        let diagnosis = probe.diagnose(&address, endpoint).await;
                        if let Some(each) = each {
                            each(&BackendStatus {
                                address,
                                diagnosis: diagnosis.clone(),
                            });
                        }
                        diagnosis
                    })
                })
                .collect();
            let mut report = Vec::with_capacity(checks.len());
            for ((address, _), check) in backends.iter().zip(checks) {
                let diagnosis = check.await.unwrap_or_else(|e| Diagnosis::Failed {
                    reason: format!("the check stopped: {e}"),
                });
                report.push(BackendStatus {
                    address: address.clone(),
                    diagnosis,
                });
            }
            report
        }))
    }
}

/// The check of one address.
#[derive(Clone)]
struct Probe {
    tls: bool,
    token: Option<AsciiMetadataValue>,
    identity: Identity,
    deadline: tokio::time::Instant,
    timeout: Duration,
}

impl Probe {
    fn timed_out(&self, phase: CheckPhase) -> Diagnosis {
        Diagnosis::Timeout {
            phase,
            waited: self.timeout,
        }
    }

    async fn diagnose(&self, address: &str, endpoint: Endpoint) -> Diagnosis {
        use tokio::time::timeout_at;

        // 1. Resolve.
        let host_port = strip_scheme(address).to_owned();
        let addrs: Vec<std::net::SocketAddr> =
            match timeout_at(self.deadline, tokio::net::lookup_host(host_port)).await {
                Err(_) => return self.timed_out(CheckPhase::Resolving),
                Ok(Err(e)) => {
                    return Diagnosis::DnsFailure {
                        reason: e.to_string(),
                    };
                }
                Ok(Ok(addrs)) => addrs.collect(),
            };
        if addrs.is_empty() {
            return Diagnosis::DnsFailure {
                reason: "no address for this name".to_owned(),
            };
        }
        // 2. Connect over TCP, to each address in turn.
        let mut last_error = None;
        for addr in &addrs {
            match timeout_at(self.deadline, tokio::net::TcpStream::connect(addr)).await {
                Err(_) => return self.timed_out(CheckPhase::Connecting),
                Ok(Ok(_stream)) => {
                    last_error = None;
                    break;
                }
                Ok(Err(e)) => last_error = Some(e),
            }
        }
        if let Some(e) = last_error {
            return if e.kind() == std::io::ErrorKind::ConnectionRefused {
                Diagnosis::ConnectionRefused
            } else {
                Diagnosis::Unreachable {
                    reason: e.to_string(),
                }
            };
        }
        // 3. TLS and HTTP/2.
        let channel = match timeout_at(self.deadline, endpoint.connect()).await {
            Err(_) => return self.timed_out(CheckPhase::Handshake),
            Ok(Err(e)) => {
                let reason = crate::diag::chain(&e);
                return if self.tls {
                    Diagnosis::TlsHandshakeFailed {
                        reason: tls_reason(&reason),
                    }
                } else {
                    Diagnosis::NotOap { reason }
                };
            }
            Ok(Ok(channel)) => channel,
        };
        // 4. Ask.
        match timeout_at(self.deadline, self.ask(channel)).await {
            Err(_) => self.timed_out(CheckPhase::Answering),
            Ok(diagnosis) => diagnosis,
        }
    }

    /// The first call, and the second if OAP has no configuration discovery.
    async fn ask(&self, channel: Channel) -> Diagnosis {
        let start = Instant::now();
        let request = with_token(
            ConfigurationSyncRequest {
                service: self.identity.service.clone(),
                uuid: String::new(),
            },
            self.token.as_ref(),
        );
        let status = match ConfigurationDiscoveryServiceClient::new(channel.clone())
            .fetch_configurations(request)
            .await
        {
            Ok(_) => {
                return Diagnosis::Reachable {
                    round_trip: start.elapsed(),
                };
            }
            Err(status) => status,
        };
        if status.code() != Code::Unimplemented {
            return self.diagnose_status(&status);
        }
        let start = Instant::now();
        let ping = InstancePingPkg {
            service: self.identity.service.clone(),
            service_instance: self.identity.instance.clone(),
            layer: String::new(),
        };
        match ManagementServiceClient::new(channel)
            .keep_alive(with_token(ping, self.token.as_ref()))
            .await
        {
            Ok(_) => Diagnosis::Reachable {
                round_trip: start.elapsed(),
            },
            Err(status) => self.diagnose_status(&status),
        }
    }

    fn diagnose_status(&self, status: &Status) -> Diagnosis {
        match status.code() {
            Code::PermissionDenied | Code::Unauthenticated => Diagnosis::TokenRejected {
                token_set: self.token.is_some(),
                message: format!("{:?}: {}", status.code(), status.message()),
            },
            Code::Unimplemented => Diagnosis::NotOap {
                reason: "its gRPC server implements neither ConfigurationDiscoveryService nor \
                         ManagementService (UNIMPLEMENTED)"
                    .to_owned(),
            },
            // With a source, an error of the transport rather than a status the server
            // sent: what answered does not speak gRPC over HTTP/2 (an HTTP/1 server, a TLS
            // port spoken to in clear). Without one, the server's own error.
            code => match std::error::Error::source(status) {
                Some(source) => Diagnosis::NotOap {
                    reason: format!(
                        "{code:?}: {}: {}",
                        status.message(),
                        crate::diag::chain(source)
                    ),
                },
                None => Diagnosis::Failed {
                    reason: format!("{code:?}: {}", status.message()),
                },
            },
        }
    }
}

/// rustls' reason, with what it means first. rustls 0.23 writes some certificate errors
/// as sentences ("certificate expired: ...") and others by their variant's name
/// (`UnknownIssuer`); both forms are looked for.
fn tls_reason(reason: &str) -> String {
    const NOT_FOR_NAME: &str = "OAP's certificate does not name the host in the address";
    const EXPIRED: &str = "OAP's certificate has expired";
    const NOT_YET: &str = "OAP's certificate is not valid yet";
    let meaning = [
        (
            "UnknownIssuer",
            "OAP's certificate is signed by a CA this agent does not trust",
        ),
        ("certificate not valid for name", NOT_FOR_NAME),
        ("NotValidForName", NOT_FOR_NAME),
        ("certificate expired", EXPIRED),
        ("Expired", EXPIRED),
        ("certificate not valid yet", NOT_YET),
        ("NotValidYet", NOT_YET),
        ("Revoked", "OAP's certificate is revoked"),
        (
            "InvalidContentType",
            "the collector does not speak TLS on this port",
        ),
        (
            "CertificateRequired",
            "OAP requires a client certificate (mutual TLS): set \
             SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_CHAIN_PATH and _CLIENT_KEY_PATH",
        ),
        (
            "BadCertificate",
            "OAP rejected the client certificate (mutual TLS)",
        ),
    ]
    .iter()
    .find(|(needle, _)| reason.contains(needle))
    .map(|(_, meaning)| *meaning);
    match meaning {
        Some(meaning) => format!("{meaning} ({reason})"),
        None => reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_name_the_variable_to_check() {
        let cases = [
            (Diagnosis::ConnectionRefused, BACKENDS),
            (
                Diagnosis::DnsFailure {
                    reason: "no such host".into(),
                },
                BACKENDS,
            ),
            (
                Diagnosis::Timeout {
                    phase: CheckPhase::Connecting,
                    waited: Duration::from_secs(3),
                },
                BACKENDS,
            ),
            (
                Diagnosis::TlsHandshakeFailed {
                    reason: tls_reason("invalid peer certificate: UnknownIssuer"),
                },
                "SW_AGENT_REPORTER_GRPC_TLS_CA_PATH",
            ),
            (
                Diagnosis::TokenRejected {
                    token_set: true,
                    message: "PermissionDenied".into(),
                },
                "SW_AGENT_AUTHENTICATION",
            ),
            (
                Diagnosis::NotOap {
                    reason: "UNIMPLEMENTED".into(),
                },
                BACKENDS,
            ),
        ];
        for (diagnosis, variable) in cases {
            assert!(!diagnosis.is_usable());
            let line = BackendStatus {
                address: "oap:11800".into(),
                diagnosis,
            }
            .to_string();
            assert!(line.contains("oap:11800"), "{line}");
            assert!(line.contains(variable), "{line}");
        }
        let ok = Diagnosis::Reachable {
            round_trip: Duration::from_millis(2),
        };
        assert!(ok.is_usable());
        assert!(ok.to_string().contains("answers as OAP"));
    }

    #[test]
    fn tls_reasons_are_put_in_words() {
        let text = tls_reason("transport error: invalid peer certificate: UnknownIssuer");
        assert!(
            text.starts_with("OAP's certificate is signed by a CA"),
            "{text}"
        );
        assert!(text.ends_with("UnknownIssuer)"), "{text}");
        assert_eq!(tls_reason("something else"), "something else");
    }
}

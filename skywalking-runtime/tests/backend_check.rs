//! The backend check (`check_backend`, `Config::check_backends`, the `sw-check`
//! command and the agent's line at start) against the mock collector and against
//! servers that are not one: each diagnosis, in words naming what to check.

mod reporter_support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use reporter_support::{
    child_role, collector_runtime, free_addr, run_child, stderr_lines, temp_dir, write,
};
use skywalking_runtime::{BackendStatus, CheckPhase, Config, Diagnosis};
use skywalking_testkit::MockCollector;

const TIMEOUT: Duration = Duration::from_secs(5);

fn config(vars: &[(&str, String)]) -> Config {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned()).expect("a valid configuration")
}

fn check(vars: &[(&str, String)], timeout: Duration) -> Vec<BackendStatus> {
    config(vars)
        .check_backends(timeout)
        .expect("the check runs")
}

fn backend(address: impl ToString) -> (&'static str, String) {
    ("SW_AGENT_COLLECTOR_BACKEND_SERVICES", address.to_string())
}

/// One address's diagnosis.
fn diagnose(vars: &[(&str, String)]) -> Diagnosis {
    let mut report = check(vars, TIMEOUT);
    assert_eq!(report.len(), 1, "{report:?}");
    report.remove(0).diagnosis
}

struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("key");
        Ca(CertifiedIssuer::self_signed(params, key).expect("self-signed CA"))
    }

    fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &self.0)
            .expect("signed");
        (cert.pem(), key.serialize_pem())
    }
}

#[test]
fn a_running_collector_answers_as_oap_and_a_dead_one_is_refused() {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let dead = free_addr();
    let report = check(
        &[
            backend(format!("{},{dead}", collector.addr())),
            ("SW_AGENT_NAME", "checked-svc".to_owned()),
        ],
        TIMEOUT,
    );
    assert_eq!(report.len(), 2);
    assert_eq!(report[0].address, collector.addr().to_string());
    assert!(
        matches!(report[0].diagnosis, Diagnosis::Reachable { round_trip } if round_trip < TIMEOUT),
        "{}",
        report[0]
    );
    assert!(report[0].is_usable());
    assert!(
        report[0].to_string().contains("answers as OAP"),
        "{}",
        report[0]
    );
    // The check reads nothing but the configuration of its service.
    let requests = collector.configuration_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].service, "checked-svc");
    assert!(collector.pings().is_empty() && collector.segments().is_empty());

    assert_eq!(report[1].diagnosis, Diagnosis::ConnectionRefused);
    assert!(!report[1].is_usable());
    let line = report[1].to_string();
    assert!(line.contains(&dead.to_string()), "{line}");
    assert!(
        line.contains("SW_AGENT_COLLECTOR_BACKEND_SERVICES"),
        "{line}"
    );
}

#[test]
fn a_name_that_does_not_resolve() {
    let diagnosis = diagnose(&[backend("oap.invalid:11800")]);
    assert!(
        matches!(
            diagnosis,
            Diagnosis::DnsFailure { .. }
                | Diagnosis::Timeout {
                    phase: CheckPhase::Resolving,
                    ..
                }
        ),
        "{diagnosis}"
    );
    assert!(
        diagnosis
            .to_string()
            .contains("SW_AGENT_COLLECTOR_BACKEND_SERVICES")
    );
}

#[test]
fn a_wrong_or_missing_token_is_rejected() {
    let rt = collector_runtime();
    let collector = rt
        .block_on(MockCollector::builder().authentication("s3cret").start())
        .expect("collector");
    let address = backend(collector.addr());

    let wrong = diagnose(&[
        address.clone(),
        ("SW_AGENT_AUTHENTICATION", "guess".to_owned()),
    ]);
    assert!(
        matches!(&wrong, Diagnosis::TokenRejected { token_set: true, message } if message.contains("PermissionDenied")),
        "{wrong:?}"
    );
    assert!(
        wrong.to_string().contains("SW_AGENT_AUTHENTICATION"),
        "{wrong}"
    );
    assert!(wrong.to_string().contains("SW_AUTHENTICATION"), "{wrong}");

    let missing = diagnose(std::slice::from_ref(&address));
    assert!(
        matches!(
            missing,
            Diagnosis::TokenRejected {
                token_set: false,
                ..
            }
        ),
        "{missing:?}"
    );
    assert!(
        missing
            .to_string()
            .contains("requires an authentication token")
    );

    let right = diagnose(&[address, ("SW_AGENT_AUTHENTICATION", "s3cret".to_owned())]);
    assert!(right.is_usable(), "{right}");
}

#[test]
fn tls_with_the_wrong_ca_fails_the_handshake_with_the_reason() {
    let dir = temp_dir("check-tls");
    let ca = Ca::new("check CA");
    let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"]);
    let ca_path = write(&dir, "ca.pem", &ca.0.pem());
    let other_ca_path = write(&dir, "other.pem", &Ca::new("another CA").0.pem());
    let rt = collector_runtime();
    let collector = rt
        .block_on(MockCollector::builder().tls(&cert, &key).start())
        .expect("TLS collector");
    let path = |p: &Path| p.display().to_string();
    let tls = |ca: &Path| {
        vec![
            backend(collector.addr()),
            ("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH", path(ca)),
        ]
    };

    let right = diagnose(&tls(&ca_path));
    assert!(right.is_usable(), "{right}");

    let wrong = diagnose(&tls(&other_ca_path));
    let Diagnosis::TlsHandshakeFailed { reason } = &wrong else {
        panic!("{wrong:?}");
    };
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    assert!(reason.contains("CA this agent does not trust"), "{reason}");
    assert!(
        wrong
            .to_string()
            .contains("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH"),
        "{wrong}"
    );

    // TLS on with no CA path: the system's trust store, which does not hold the test CA.
    let system = diagnose(&[
        backend(collector.addr()),
        ("SW_AGENT_REPORTER_GRPC_TLS_ENABLE", "true".to_owned()),
    ]);
    assert!(
        matches!(&system, Diagnosis::TlsHandshakeFailed { reason } if reason.contains("UnknownIssuer")),
        "{system:?}"
    );

    // TLS spoken to a collector without it, and clear text to one with it.
    let plain = rt.block_on(MockCollector::start()).expect("collector");
    let no_tls_there = diagnose(&[
        backend(plain.addr()),
        ("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH", path(&ca_path)),
    ]);
    assert!(
        matches!(no_tls_there, Diagnosis::TlsHandshakeFailed { .. }),
        "{no_tls_there:?}"
    );
    let clear_to_tls = diagnose(&[backend(collector.addr())]);
    assert!(
        matches!(clear_to_tls, Diagnosis::NotOap { .. }),
        "{clear_to_tls:?}"
    );
    assert!(
        clear_to_tls
            .to_string()
            .contains("SW_AGENT_REPORTER_GRPC_TLS_ENABLE")
    );
}

#[test]
fn a_certificate_for_another_name_or_out_of_date_is_named_as_such() {
    let dir = temp_dir("check-tls-names");
    let ca = Ca::new("check CA");
    let ca_path = write(&dir, "ca.pem", &ca.0.pem());
    let rt = collector_runtime();
    let diagnose_with = |cert: &str, key: &str| {
        let collector = rt
            .block_on(MockCollector::builder().tls(cert, key).start())
            .expect("TLS collector");
        diagnose(&[
            backend(collector.addr()),
            (
                "SW_AGENT_REPORTER_GRPC_TLS_CA_PATH",
                ca_path.display().to_string(),
            ),
        ])
    };
    let reason = |diagnosis: Diagnosis| match diagnosis {
        Diagnosis::TlsHandshakeFailed { reason } => reason,
        other => panic!("{other:?}"),
    };

    let (cert, key) = ca.leaf(&["oap.example"]);
    let other_name = reason(diagnose_with(&cert, &key));
    assert!(
        other_name.contains("does not name the host in the address"),
        "{other_name}"
    );

    let expired = {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("params");
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        let cert = params.signed_by(&key, &ca.0).expect("signed");
        reason(diagnose_with(&cert.pem(), &key.serialize_pem()))
    };
    assert!(expired.contains("has expired"), "{expired}");
}

#[test]
fn an_error_status_from_the_collector() {
    let rt = collector_runtime();
    let collector = rt
        .block_on(MockCollector::builder().fail_first(1).start())
        .expect("collector");
    let diagnosis = diagnose(&[backend(collector.addr())]);
    assert!(
        matches!(&diagnosis, Diagnosis::Failed { reason } if reason.starts_with("Unavailable")),
        "{diagnosis:?}"
    );
    // The next check finds it well.
    assert!(diagnose(&[backend(collector.addr())]).is_usable());
}

#[test]
fn an_http1_server_is_not_oap() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
    let addr = listener.local_addr().expect("an address");
    // Answers anything with an HTTP/1.1 400, as OAP's REST port or any web server would.
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let diagnosis = diagnose(&[backend(addr)]);
    assert!(
        matches!(diagnosis, Diagnosis::NotOap { .. }),
        "{diagnosis:?}"
    );
    assert!(diagnosis.to_string().contains("12800"), "{diagnosis}");
}

#[test]
fn a_grpc_server_that_is_not_oap() {
    let rt = collector_runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bound");
    let addr = listener.local_addr().expect("an address");
    // A gRPC server with no SkyWalking service: every call is UNIMPLEMENTED.
    rt.spawn(
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::default())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let diagnosis = diagnose(&[backend(addr)]);
    let Diagnosis::NotOap { reason } = &diagnosis else {
        panic!("{diagnosis:?}");
    };
    assert!(reason.contains("UNIMPLEMENTED"), "{reason}");
    assert!(diagnosis.to_string().contains("11800"), "{diagnosis}");
}

#[test]
fn a_server_that_never_answers_times_out() {
    // Connections complete in the kernel's backlog; nothing ever reads them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
    let started = Instant::now();
    let report = check(
        &[backend(silent.local_addr().expect("an address"))],
        Duration::from_millis(500),
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout holds"
    );
    assert!(
        matches!(
            report[0].diagnosis,
            Diagnosis::Timeout {
                phase: CheckPhase::Handshake | CheckPhase::Answering,
                ..
            }
        ),
        "{}",
        report[0]
    );
}

/// The agent side of the startup test, run in a child process (a no-op in the parent).
#[test]
fn child() {
    let Some(_role) = child_role() else { return };
    let started = Instant::now();
    let agent = skywalking_runtime::init().expect("init from the environment");
    println!("init_ms={}", started.elapsed().as_millis());
    // Live long enough for the check's thread to log the quick answers.
    std::thread::sleep(Duration::from_millis(1500));
    let _ = agent.shutdown(Duration::from_millis(100));
}

#[test]
fn the_agent_logs_one_line_per_backend_at_start_without_waiting_for_it() {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let dead = free_addr();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
    let silent_addr = silent.local_addr().expect("an address");
    let out = run_child(
        "child",
        "startup",
        &[
            backend(format!("{dead},{silent_addr},{}", collector.addr())),
            ("SW_LOG_LEVEL", "info".to_owned()),
        ],
    );
    let init_ms: u64 = reporter_support::child_value(&out, "init_ms")
        .and_then(|v| v.parse().ok())
        .expect("init_ms");
    assert!(init_ms < 1000, "init waited for the check: {init_ms} ms");

    let lines = stderr_lines(&out, "backend check:");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let dead_line = lines
        .iter()
        .find(|l| l.contains(&dead.to_string()))
        .unwrap_or_else(|| panic!("no line for {dead}:\n{stderr}"));
    assert!(dead_line.contains("WARN"), "{dead_line}");
    assert!(dead_line.contains("connection refused"), "{dead_line}");
    assert!(
        dead_line.contains("SW_AGENT_COLLECTOR_BACKEND_SERVICES"),
        "{dead_line}"
    );
    let up_line = lines
        .iter()
        .find(|l| l.contains(&collector.addr().to_string()))
        .unwrap_or_else(|| panic!("no line for the collector:\n{stderr}"));
    assert!(
        up_line.contains("INFO") && up_line.contains("answers as OAP"),
        "{up_line}"
    );
    // The silent one would time out after 5 s, past the child's life: no line, and
    // nothing waited for it.
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(!stderr.contains(&format!(
        "backend check: SkyWalking collector at {silent_addr}"
    )));
}

#[test]
fn the_sw_check_command_prints_the_report_and_exits_non_zero_when_nothing_is_usable() {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let dead = free_addr();
    let run = |args: &[String]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sw-check"));
        for (key, _) in std::env::vars() {
            if key.starts_with("SW_AGENT") {
                command.env_remove(key);
            }
        }
        command.args(args).output().expect("sw-check runs")
    };

    let out = run(&[collector.addr().to_string(), dead.to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok    SkyWalking collector at"), "{stdout}");
    assert!(
        stdout.contains(&format!("FAIL  SkyWalking collector at {dead}")),
        "{stdout}"
    );

    let out = run(&[dead.to_string(), "--timeout".into(), "2".into()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("connection refused"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no usable SkyWalking collector"));

    let out = run(&["--timeout".into(), "soon".into()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["not-an-address".into()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SW_AGENT_COLLECTOR_BACKEND_SERVICES"));
    assert_eq!(run(&["--help".into()]).status.code(), Some(0));
}

/// TLS with no CA path on a host whose trust store is empty (rustls-native-certs reads
/// `SSL_CERT_FILE`/`SSL_CERT_DIR` first): a configuration error naming the CA variable,
/// or, with Mozilla's roots compiled in, a check that runs.
#[test]
fn tls_without_a_ca_path_and_an_empty_system_store() {
    let empty = temp_dir("empty-store");
    let out = Command::new(env!("CARGO_BIN_EXE_sw-check"))
        .env("SSL_CERT_FILE", empty.join("none.pem"))
        .env("SSL_CERT_DIR", &empty)
        .args(["--tls", "--timeout", "1", &free_addr().to_string()])
        .output()
        .expect("sw-check runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "tls-webpki-roots") {
        assert_eq!(out.status.code(), Some(1), "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH"),
            "{stderr}"
        );
        assert!(stderr.contains("ca-certificates"), "{stderr}");
    }
}

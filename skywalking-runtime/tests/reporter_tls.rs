//! TLS and mutual TLS to the collector, configured from the environment
//! (`SW_AGENT_REPORTER_GRPC_TLS_*`) with certificates made here by `rcgen`. Each agent
//! runs in a child process of this test binary. A CA that did not sign the collector's
//! certificate fails the handshake: counted, and logged once with the reason.

mod reporter_support;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use reporter_support::{
    WAIT, child_role, child_value, collector_runtime, run_child, segment, stderr_lines, temp_dir,
    write,
};
use skywalking_testkit::MockCollector;

struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("key");
        Ca(CertifiedIssuer::self_signed(params, key).expect("self-signed CA"))
    }

    /// A leaf certificate and key (PEM) for `names`.
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

/// The agent side, run in a child process (a no-op in the parent).
#[test]
fn child() {
    let Some(_role) = child_role() else { return };
    let guard = skywalking_runtime::init().expect("init from the environment");
    for _ in 0..10 {
        segment("over-tls", 1);
    }
    drop(guard);
    let stats = skywalking_runtime::stats();
    println!("sent={}", stats.segments_sent);
    println!("dropped={}", stats.segments_dropped);
    println!("send_errors={}", stats.send_errors);
}

#[test]
fn tls_and_mutual_tls_work_and_a_wrong_ca_is_refused_clearly() {
    let dir = temp_dir("tls");
    let ca = Ca::new("agent test CA");
    let (server_cert, server_key) = ca.leaf(&["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = ca.leaf(&["agent"]);
    let ca_path = write(&dir, "ca.pem", &ca.0.pem());
    let client_cert_path = write(&dir, "client.pem", &client_cert);
    let client_key_path = write(&dir, "client.key", &client_key);
    let other_ca_path = write(&dir, "other-ca.pem", &Ca::new("another CA").0.pem());

    let rt = collector_runtime();
    let tls = rt
        .block_on(
            MockCollector::builder()
                .tls(&server_cert, &server_key)
                .start(),
        )
        .expect("TLS collector");
    let mtls = rt
        .block_on(
            MockCollector::builder()
                .tls(&server_cert, &server_key)
                .client_ca(ca.0.pem())
                .start(),
        )
        .expect("mTLS collector");
    let path = |p: &std::path::Path| p.display().to_string();
    let base = |collector: &MockCollector, ca: &std::path::Path| {
        vec![
            ("SW_AGENT_NAME", "tls-svc".to_owned()),
            (
                "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                collector.addr().to_string(),
            ),
            ("SW_AGENT_REPORTER_GRPC_TLS_ENABLE", "true".to_owned()),
            ("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH", path(ca)),
        ]
    };

    // TLS: the collector's certificate is checked against the CA.
    let out = run_child("child", "tls", &base(&tls, &ca_path));
    assert_eq!(child_value(&out, "sent").as_deref(), Some("10"));
    let segments = rt
        .block_on(tls.wait_for_segments(10, WAIT))
        .expect("over TLS");
    assert!(segments.iter().all(|s| s.service == "tls-svc"));

    // Mutual TLS: the agent presents its certificate.
    let mut env = base(&mtls, &ca_path);
    env.push((
        "SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_CHAIN_PATH",
        path(&client_cert_path),
    ));
    env.push((
        "SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH",
        path(&client_key_path),
    ));
    let out = run_child("child", "mtls", &env);
    assert_eq!(child_value(&out, "sent").as_deref(), Some("10"));
    rt.block_on(mtls.wait_for_segments(10, WAIT))
        .expect("over mutual TLS");

    // Without its certificate, the mTLS collector refuses the agent.
    let out = run_child("child", "mtls-no-cert", &base(&mtls, &ca_path));
    assert_eq!(child_value(&out, "sent").as_deref(), Some("0"));
    assert_eq!(mtls.segments().len(), 10);

    // A CA that did not sign the collector's certificate: the handshake fails, clearly.
    let out = run_child("child", "bad-ca", &base(&tls, &other_ca_path));
    assert_eq!(child_value(&out, "sent").as_deref(), Some("0"));
    assert_eq!(child_value(&out, "dropped").as_deref(), Some("10"));
    let errors: u64 = child_value(&out, "send_errors").unwrap().parse().unwrap();
    assert!(errors >= 1);
    let logged = stderr_lines(&out, "TLS handshake failed");
    assert_eq!(
        logged.len(),
        1,
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(logged[0].contains("certificate"), "{}", logged[0]);
    eprintln!("logged: {}", logged[0]);
    assert_eq!(tls.segments().len(), 10);

    let _ = std::fs::remove_dir_all(dir);
}

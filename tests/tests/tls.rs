//! TLS and mutual TLS with certificates made on the spot by `rcgen`: a client that
//! trusts the right CA gets through, one that trusts another CA (or speaks plain HTTP/2)
//! does not; with `client_ca`, only clients presenting a certificate from that CA do.

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_testkit::{Error, MockCollector};
use skywalking_tests::{WAIT, ping};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A CA that can sign leaf certificates.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate and its key, both PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf certificate for these names (DNS names or IP addresses).
    fn leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// Connects over TLS trusting `ca_pem`, optionally presenting a client certificate,
/// and sends one ping. Any failure (handshake, connect or call) is an `Err`.
async fn ping_over_tls(
    collector: &MockCollector,
    ca_pem: &str,
    client: Option<&Leaf>,
) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some(client) = client {
        tls = tls.identity(Identity::from_pem(&client.cert, &client.key));
    }
    let channel: Channel = Endpoint::from_shared(collector.endpoint())
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    ManagementServiceClient::new(channel)
        .keep_alive(ping("tls"))
        .await
        .map(drop)
        .map_err(|status| format!("call: {status:?}"))
}

#[tokio::test]
async fn a_client_trusting_the_ca_gets_through_and_others_do_not() {
    let ca = Ca::new("test CA");
    let server = ca.leaf(&["localhost", "127.0.0.1"]);
    let collector = MockCollector::builder()
        .tls(&server.cert, &server.key)
        .start()
        .await
        .unwrap();
    assert!(collector.endpoint().starts_with("https://127.0.0.1:"));

    ping_over_tls(&collector, &ca.pem(), None).await.unwrap();
    assert_eq!(
        collector.wait_for_pings(1, WAIT).await.unwrap(),
        [ping("tls")]
    );

    let other_ca = Ca::new("some other CA");
    let refused = ping_over_tls(&collector, &other_ca.pem(), None).await;
    assert!(refused.is_err(), "a client trusting another CA got through");

    // Plain HTTP/2 to the TLS port fails too.
    let plain = collector.endpoint().replacen("https://", "http://", 1);
    let plain_result = async {
        let channel = Endpoint::from_shared(plain)?
            .timeout(Duration::from_secs(5))
            .connect()
            .await?;
        ManagementServiceClient::new(channel)
            .keep_alive(ping("plain"))
            .await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    assert!(plain_result.is_err(), "plain HTTP/2 got through a TLS port");

    assert_eq!(collector.pings(), [ping("tls")]);
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_client_ca() {
    let ca = Ca::new("test CA");
    let server = ca.leaf(&["localhost"]);
    let client_ca = Ca::new("client CA");
    let collector = MockCollector::builder()
        .tls(&server.cert, &server.key)
        .client_ca(client_ca.pem())
        .start()
        .await
        .unwrap();

    let good_client = client_ca.leaf(&["agent"]);
    ping_over_tls(&collector, &ca.pem(), Some(&good_client))
        .await
        .unwrap();

    let no_cert = ping_over_tls(&collector, &ca.pem(), None).await;
    assert!(
        no_cert.is_err(),
        "a client without a certificate got through"
    );
    let stranger = Ca::new("stranger CA").leaf(&["agent"]);
    let wrong_cert = ping_over_tls(&collector, &ca.pem(), Some(&stranger)).await;
    assert!(
        wrong_cert.is_err(),
        "a client with a foreign certificate got through"
    );

    assert_eq!(collector.pings(), [ping("tls")]);
}

#[tokio::test]
async fn bad_tls_settings_fail_at_start() {
    let err = MockCollector::builder()
        .tls("not a certificate", "not a key")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");

    let err = MockCollector::builder()
        .client_ca(Ca::new("CA").pem())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ClientCaWithoutTls), "{err:?}");
}

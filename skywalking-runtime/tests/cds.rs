//! Dynamic configuration (CDS): a running agent, reporting over gRPC to the mock
//! collector, takes the sampling rate and ignore paths the collector serves within one
//! polling period; a bad value changes nothing; a removed configuration gives the local
//! settings back. The agent polls with the UUID it holds, so an unchanged configuration
//! comes back empty.

mod reporter_support;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use http::{Request, Response};
use reporter_support::{WAIT, collector_runtime};
use skywalking_runtime::integrations::tower::ServerLayer;
use skywalking_runtime::{Agent, Config, Span, stats};
use skywalking_testkit::MockCollector;
use tower::{Layer, ServiceExt, service_fn};

/// The polling period of the test (OAP's default is 20 s).
const PERIOD: Duration = Duration::from_millis(300);
/// What "within one period" allows for the reporter's turn and the call itself.
const SLACK: Duration = Duration::from_millis(1500);

// Dropped in this order: the agent (flushing) before the collector and its runtime.
struct Harness {
    agent: Agent,
    collector: MockCollector,
    rt: tokio::runtime::Runtime,
}

impl Harness {
    /// An HTTP request through the tower server layer (an entry span named by it).
    fn request(&self, path: &str) {
        let service = ServerLayer::new().layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }));
        self.rt
            .block_on(service.oneshot(Request::get(path).body(()).expect("a request")))
            .expect("answered");
    }

    /// Whether a span named `name` reached the collector (after a flush, which waits
    /// for the collector's answer).
    fn reported(&self, name: &str) -> bool {
        assert!(self.agent.flush(WAIT), "flushed");
        self.collector
            .segments()
            .iter()
            .flat_map(|s| &s.spans)
            .any(|span| span.operation_name == name)
    }

    /// How many spans named `name` reached the collector (after a flush).
    fn count(&self, name: &str) -> usize {
        assert!(self.agent.flush(WAIT), "flushed");
        self.collector
            .segments()
            .iter()
            .flat_map(|s| &s.spans)
            .filter(|span| span.operation_name == name)
            .count()
    }

    /// Whether a new trace is sampled now.
    fn sampled(&self) -> bool {
        let before = stats().traces_unsampled;
        drop(Span::local("cds.probe"));
        stats().traces_unsampled == before
    }

    /// Waits until `changed` holds, and returns how long it took.
    fn until(&self, what: &str, mut changed: impl FnMut(&Harness) -> bool) -> Duration {
        let start = Instant::now();
        while !changed(self) {
            assert!(
                start.elapsed() < PERIOD + SLACK + WAIT,
                "{what}: not applied; requests: {:?}",
                self.collector.configuration_requests()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        start.elapsed()
    }

    /// Waits until the agent has fetched `n` more times.
    fn fetches(&self, n: usize) {
        let seen = self.collector.configuration_requests().len();
        self.rt
            .block_on(self.collector.wait_until(WAIT, |r| {
                (r.configuration_requests.len() >= seen + n).then_some(())
            }))
            .expect("the agent keeps polling");
    }
}

#[test]
fn oap_changes_sampling_and_ignore_rules_of_a_running_agent() {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let agent = Agent::builder()
        .config(Config::default())
        .service("cds-svc")
        .instance("cds-1")
        .backend(collector.addr().to_string())
        .cds_interval(PERIOD)
        .flush_interval(Duration::from_millis(5))
        .start()
        .expect("agent starts");
    let h = Harness {
        agent,
        collector,
        rt,
    };

    // The first fetch (and the backend check's, at start) names the service, with no
    // UUID yet; OAP's empty configuration changes nothing, and its UUID is sent back.
    h.until("a fetch with the UUID", |h| {
        h.collector
            .configuration_requests()
            .iter()
            .any(|r| !r.uuid.is_empty())
    });
    let requests = h.collector.configuration_requests();
    assert!(requests.iter().all(|r| r.service == "cds-svc"));
    assert_eq!(requests[0].uuid, "");
    assert!(h.sampled());
    h.request("/health");
    h.request("/static/app");
    assert!(h.reported("GET /health"), "not ignored yet");
    assert_eq!(h.count("GET /health"), 1);
    assert_eq!(h.count("GET /static/app"), 1);

    // Ignore paths, under the Java agent's key (an unknown key is ignored).
    h.collector.set_agent_configurations(
        "cds-svc",
        [
            ("agent.trace.ignore_path", "/health,/static/**"),
            ("plugin.jdbc.trace_sql_parameters", "true"),
        ],
    );
    let took = h.until("ignore paths", |h| {
        let before = h.count("GET /static/app");
        h.request("/static/app");
        h.count("GET /static/app") == before
    });
    assert!(took < PERIOD + SLACK, "applied after {took:?}");
    h.request("/health");
    h.request("/api/orders");
    assert!(h.reported("GET /api/orders"), "other paths are recorded");
    assert_eq!(h.count("GET /health"), 1, "/health is ignored now");
    assert!(h.sampled());

    // Our sampling rate, under the Go agent's key.
    h.collector.set_agent_configurations(
        "cds-svc",
        [
            ("agent.trace.ignore_path", "/health,/static/**"),
            ("agent.sample_rate", "0"),
        ],
    );
    let took = h.until("sample rate 0", |h| !h.sampled());
    assert!(took < PERIOD + SLACK, "applied after {took:?}");
    assert!((0..50).all(|_| !h.sampled()), "nothing sampled at rate 0");

    // A bad value changes nothing: the rate stays 0 (not the local 1).
    h.collector.set_agent_configurations(
        "cds-svc",
        [
            ("agent.trace.ignore_path", "/health,/static/**"),
            ("agent.sample_rate", "lots"),
        ],
    );
    // One fetch gets the answer, the next ones carry its UUID.
    h.fetches(3);
    assert!((0..50).all(|_| !h.sampled()), "the rate is still 0");
    let requests = h.collector.configuration_requests();
    let n = requests.len();
    assert_eq!(
        requests[n - 1].uuid,
        requests[n - 2].uuid,
        "steady state: the UUID held is sent each time"
    );

    // The configuration removed: back to the local settings (all sampled, no ignore
    // paths).
    h.collector.remove_agent_configurations("cds-svc");
    let took = h.until("the local settings", |h| h.sampled());
    assert!(took < PERIOD + SLACK, "applied after {took:?}");
    h.request("/health");
    assert!(h.reported("GET /health"));
    assert_eq!(h.count("GET /health"), 2, "/health is recorded again");
}

//! `sw::init()` reads its configuration from `SW_AGENT_*`. Each configuration runs in a
//! child process of this test binary, so the environment is never changed under other
//! tests: a full configuration with failover past a dead address, a bad value (a clear
//! error naming it), and the `SW_AGENT_DISABLE` kill switch.

mod reporter_support;

use reporter_support::{
    WAIT, child_role, child_value, collector_runtime, free_addr, run_child, segment, stderr_lines,
};
use skywalking_runtime::Span;
use skywalking_testkit::MockCollector;

/// The program side, run in a child process (a no-op in the parent).
#[test]
fn child() {
    let Some(role) = child_role() else { return };
    match role.as_str() {
        "configured" => {
            let guard = skywalking_runtime::init().expect("init from the environment");
            for _ in 0..10 {
                segment("configured", 1);
            }
            drop(guard);
            println!("sent={}", skywalking_runtime::stats().segments_sent);
        }
        "bad" => {
            let error = skywalking_runtime::init().expect_err("a bad value fails init");
            println!("error={}", error.to_string().replace(' ', "_"));
        }
        "disabled" => {
            let guard = skywalking_runtime::init().expect("init");
            let span = Span::local("nothing");
            println!("recording={}", span.is_recording());
            println!("trace={}", skywalking_runtime::trace_id().is_some());
            drop(span);
            println!("flushed={}", guard.flush(std::time::Duration::from_secs(1)));
            drop(guard);
            println!("spans={}", skywalking_runtime::stats().spans_started);
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn init_reads_the_environment() {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let dead = free_addr();

    // Every main variable, and two addresses: the first is dead, so the agent fails
    // over to the second.
    let out = run_child(
        "child",
        "configured",
        &[
            ("SW_AGENT_NAME", "env-svc".to_owned()),
            ("SW_AGENT_INSTANCE_NAME", "env-1".to_owned()),
            (
                "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                format!("{dead},{}", collector.addr()),
            ),
            ("SW_AGENT_SAMPLE", "1".to_owned()),
            ("SW_AGENT_REPORTER_MAX_SEND_QUEUE", "1000".to_owned()),
            ("SW_AGENT_REPORTER_CHECK_INTERVAL", "1".to_owned()),
            ("SW_AGENT_SPAN_LIMIT", "10".to_owned()),
            ("SW_AGENT_PROTOCOL", "grpc".to_owned()),
            ("SW_LOG_LEVEL", "info".to_owned()),
        ],
    );
    assert_eq!(child_value(&out, "sent").as_deref(), Some("10"));
    let segments = rt
        .block_on(collector.wait_for_segments(10, WAIT))
        .expect("segments");
    assert!(
        segments
            .iter()
            .all(|s| s.service == "env-svc" && s.service_instance == "env-1")
    );
    let properties = rt
        .block_on(collector.wait_for_properties(1, WAIT))
        .expect("properties");
    assert_eq!(properties[0].service_instance, "env-1");
    assert!(
        !stderr_lines(&out, &collector.addr().to_string()).is_empty(),
        "info logs say where"
    );

    // The Go agent's name for the address works too, and the default instance name is
    // `<32 hex>@<hostname>`.
    let out = run_child(
        "child",
        "configured",
        &[
            ("SW_AGENT_NAME", "go-alias".to_owned()),
            (
                "SW_AGENT_REPORTER_GRPC_BACKEND_SERVICE",
                collector.addr().to_string(),
            ),
        ],
    );
    assert_eq!(child_value(&out, "sent").as_deref(), Some("10"));
    let instance = rt
        .block_on(collector.wait_until(WAIT, |r| {
            r.segments
                .iter()
                .find(|s| s.service == "go-alias")
                .map(|s| s.service_instance.clone())
        }))
        .expect("segments of the second child");
    let (uuid, host) = instance.split_once('@').expect("<uuid>@<hostname>");
    assert_eq!(uuid.len(), 32, "{instance}");
    assert!(!host.is_empty(), "{instance}");

    // A bad value: init fails with the variable, the value and the accepted form.
    let out = run_child("child", "bad", &[("SW_AGENT_SAMPLE", "1.5".to_owned())]);
    let error = child_value(&out, "error")
        .expect("an error")
        .replace('_', " ");
    assert!(error.contains("SW AGENT SAMPLE"), "{error}");
    assert!(error.contains("1.5"), "{error}");
    assert!(error.contains("from 0 to 1"), "{error}");

    // The kill switch: spans are no-ops and nothing connects anywhere.
    let calls = collector.calls();
    let out = run_child(
        "child",
        "disabled",
        &[
            ("SW_AGENT_DISABLE", "true".to_owned()),
            (
                "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                collector.addr().to_string(),
            ),
        ],
    );
    assert_eq!(child_value(&out, "recording").as_deref(), Some("false"));
    assert_eq!(child_value(&out, "trace").as_deref(), Some("false"));
    assert_eq!(child_value(&out, "flushed").as_deref(), Some("true"));
    assert_eq!(child_value(&out, "spans").as_deref(), Some("0"));
    assert_eq!(
        collector.calls(),
        calls,
        "a disabled agent does not connect"
    );
}

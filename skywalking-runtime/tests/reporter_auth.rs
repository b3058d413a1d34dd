//! Token authentication, configured from the environment (`SW_AGENT_AUTHENTICATION`).
//! Each agent runs in a child process of this test binary, so its stderr can be read:
//! a wrong token gives counted errors and exactly one clear log line, and no crash; the
//! right token gets everything through.

mod reporter_support;

use std::time::Duration;

use reporter_support::{
    WAIT, child_role, child_value, collector_runtime, run_child, segment, stderr_lines,
};
use skywalking_testkit::MockCollector;

/// The agent side, run in a child process (a no-op in the parent).
#[test]
fn child() {
    let Some(role) = child_role() else { return };
    let guard = skywalking_runtime::init().expect("init from the environment");
    match role.as_str() {
        "wrong" => {
            // Long enough for many send attempts and heartbeats.
            for _ in 0..40 {
                segment("refused", 1);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        "right" => {
            for _ in 0..20 {
                segment("accepted", 1);
            }
        }
        other => panic!("unknown role {other}"),
    }
    drop(guard);
    let stats = skywalking_runtime::stats();
    println!("sent={}", stats.segments_sent);
    println!("queued={}", stats.segments_queued);
    println!("dropped={}", stats.segments_dropped);
    println!("send_errors={}", stats.send_errors);
    println!("auth_errors={}", stats.auth_errors);
}

#[test]
fn a_wrong_token_is_counted_and_logged_once_and_the_right_one_works() {
    let rt = collector_runtime();
    let collector = rt
        .block_on(MockCollector::builder().authentication("s3cret").start())
        .expect("collector");
    let env = |token: &str| {
        vec![
            ("SW_AGENT_NAME", "auth-svc".to_owned()),
            (
                "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                collector.addr().to_string(),
            ),
            ("SW_AGENT_AUTHENTICATION", token.to_owned()),
            ("SW_AGENT_REPORTER_CHECK_INTERVAL", "0.05".to_owned()),
            ("SW_LOG_LEVEL", "warn".to_owned()),
        ]
    };

    let wrong = run_child("child", "wrong", &env("guess"));
    let logged = stderr_lines(&wrong, "authentication token was refused");
    assert_eq!(
        logged.len(),
        1,
        "stderr:\n{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(
        logged[0].contains("SW_AGENT_AUTHENTICATION"),
        "{}",
        logged[0]
    );
    assert!(logged[0].contains("PermissionDenied"), "{}", logged[0]);
    let number = |key: &str| -> u64 { child_value(&wrong, key).unwrap().parse().unwrap() };
    assert_eq!(number("sent"), 0);
    assert!(number("auth_errors") >= 2, "every refused call is counted");
    assert!(number("send_errors") >= number("auth_errors"));
    assert_eq!(
        number("dropped"),
        number("queued"),
        "every segment counted as dropped"
    );
    assert!(collector.segments().is_empty());
    assert!(collector.rejected_calls() >= 2);

    let right = run_child("child", "right", &env("s3cret"));
    assert!(stderr_lines(&right, "skywalking-agent").is_empty());
    assert_eq!(child_value(&right, "sent").as_deref(), Some("20"));
    let segments = rt
        .block_on(collector.wait_for_segments(20, WAIT))
        .expect("segments");
    assert!(segments.iter().all(|s| s.service == "auth-svc"));
    assert!(!collector.properties().is_empty());
}

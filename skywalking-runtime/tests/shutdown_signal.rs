//! `shutdown_signal()`: a process that serves until SIGTERM (what Kubernetes sends before
//! it kills a pod) or SIGINT (Ctrl-C), then drops its agent, delivers the segments still
//! queued. The agent runs in a child process of this test binary, with a flush interval
//! so long that its segments wait in the queue until the shutdown.

#![cfg(unix)]

mod reporter_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use reporter_support::{WAIT, child_role, collector_runtime, segment};
use skywalking_runtime::Agent;
use skywalking_testkit::MockCollector;

const SEGMENTS: usize = 20;

/// The served process, run in a child (a no-op in the parent): queues segments, says
/// `ready`, waits for the signal as a server's graceful shutdown would, then returns,
/// dropping the agent.
#[test]
fn child() {
    let Some(_role) = child_role() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let agent = Agent::builder()
            .flush_interval(Duration::from_secs(3600))
            .start()
            .expect("the agent starts");
        let shutdown = skywalking_runtime::shutdown_signal();
        println!("ready");
        // Once the parent saw the reporter connect, the reporter sleeps for the flush
        // interval: what is made now waits in the queue.
        let mut go = String::new();
        std::io::stdin()
            .read_line(&mut go)
            .expect("a line from the parent");
        for _ in 0..SEGMENTS {
            segment("before-sigterm", 2);
        }
        println!("queued");
        // What `axum::serve(..).with_graceful_shutdown(shutdown)` does, without a server.
        shutdown.await;
        println!("stopping");
        drop(agent);
    });
    let stats = skywalking_runtime::stats();
    println!("sent={}", stats.segments_sent);
}

fn signalled_child_delivers_its_queue(signal: &str) {
    let rt = collector_runtime();
    let collector = rt.block_on(MockCollector::start()).expect("collector");
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("SW_TEST_CHILD_ROLE", signal)
        .env(
            "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
            collector.addr().to_string(),
        )
        .env("SW_AGENT_NAME", "k8s-svc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the child starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut said = |word: &str| {
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains(word))
    };
    assert!(said("ready"), "the child started its agent");
    rt.block_on(collector.wait_for_properties(1, WAIT))
        .expect("the reporter connected");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("the child reads");
    assert!(said("queued"), "the child made its segments");
    // Queued, not sent: the flush interval is an hour.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        collector.segments().is_empty(),
        "nothing sent before the signal"
    );

    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().expect("the child exits");
    assert!(
        exit.success(),
        "the child handled {signal} and exited cleanly: {exit:?}\n{rest:?}"
    );
    assert!(rest.iter().any(|l| l.contains("stopping")), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains(&format!("sent={SEGMENTS}"))),
        "{rest:?}"
    );
    let segments = rt
        .block_on(collector.wait_for_segments(SEGMENTS, WAIT))
        .expect("the queued segments arrive");
    assert!(segments.iter().all(|s| s.service == "k8s-svc"));
}

#[test]
fn sigterm_flushes_the_queue_before_the_process_exits() {
    signalled_child_delivers_its_queue("TERM");
}

#[test]
fn ctrl_c_does_the_same() {
    signalled_child_delivers_its_queue("INT");
}

//! The `sw-collector` binary: starts, prints a whole trace as a tree once it is quiet,
//! notes a ping, and exits cleanly on SIGINT (Ctrl-C).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use skywalking_proto::v3::management_service_client::ManagementServiceClient;
use skywalking_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
use skywalking_proto::v3::{
    InstancePingPkg, RefType, SegmentCollection, SegmentObject, SegmentReference, SpanObject,
    SpanType,
};

/// Kills the child if the test fails half-way.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn next_line(lines: &mpsc::Receiver<String>, deadline: Instant) -> String {
    let left = deadline.saturating_duration_since(Instant::now());
    lines
        .recv_timeout(left)
        .expect("sw-collector printed nothing in time")
}

fn segments() -> Vec<SegmentObject> {
    let span = |id, parent, kind: SpanType, op: &str, start, end| SpanObject {
        span_id: id,
        parent_span_id: parent,
        start_time: start,
        end_time: end,
        operation_name: op.into(),
        span_type: kind as i32,
        ..Default::default()
    };
    let mut exit = span(1, 0, SpanType::Exit, "GET /b", 2, 8);
    exit.peer = "b:80".into();
    let mut entry = span(0, -1, SpanType::Entry, "GET /b", 3, 7);
    entry.refs.push(SegmentReference {
        ref_type: RefType::CrossProcess as i32,
        trace_id: "trace-1".into(),
        parent_trace_segment_id: "seg-a".into(),
        parent_span_id: 1,
        ..Default::default()
    });
    vec![
        SegmentObject {
            trace_id: "trace-1".into(),
            trace_segment_id: "seg-b".into(),
            spans: vec![entry],
            service: "b".into(),
            service_instance: "b-1".into(),
            is_size_limited: false,
        },
        SegmentObject {
            trace_id: "trace-1".into(),
            trace_segment_id: "seg-a".into(),
            spans: vec![span(0, -1, SpanType::Entry, "GET /a", 0, 10), exit],
            service: "a".into(),
            service_instance: "a-1".into(),
            is_size_limited: false,
        },
    ]
}

#[tokio::test]
async fn prints_trees_and_notes_and_stops_on_ctrl_c() {
    let child = Command::new(env!("CARGO_BIN_EXE_sw-collector"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let stdout = child.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);

    let started = next_line(&lines, deadline);
    let addr = started
        .strip_prefix("sw-collector listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected first line: {started}"));
    let endpoint = format!("http://{addr}");

    let mut traces = TraceSegmentReportServiceClient::connect(endpoint.clone())
        .await
        .unwrap();
    // Two calls, so the tree must gather segments that arrived separately.
    let mut all = segments();
    let second = all.pop().unwrap();
    traces
        .collect_in_sync(SegmentCollection { segments: all })
        .await
        .unwrap();
    traces
        .collect_in_sync(SegmentCollection {
            segments: vec![second],
        })
        .await
        .unwrap();
    let mut management = ManagementServiceClient::connect(endpoint).await.unwrap();
    management
        .keep_alive(InstancePingPkg {
            service: "a".into(),
            service_instance: "a-1".into(),
            layer: String::new(),
        })
        .await
        .unwrap();

    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.contains("[b] Entry")) {
        printed.push(next_line(&lines, deadline));
    }
    let printed = printed.join("\n");
    assert!(printed.contains("ping a/a-1"), "{printed}");
    assert!(
        printed.contains(
            "trace trace-1 (2 segments)\n  \
             [a] Entry GET /a (10 ms)\n    \
             [a] Exit GET /b -> b:80 (6 ms)\n      \
             [b] Entry GET /b (4 ms)"
        ),
        "{printed}"
    );

    let status = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(next_line(&lines, deadline), "sw-collector stopped");
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

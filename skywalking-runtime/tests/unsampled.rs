//! An agent that samples nothing: spans record nothing, the trace still propagates, and
//! an incoming sampled header forces sampling.

mod common;

use std::collections::HashMap;

use skywalking_runtime::Span;
use skywalking_runtime::propagation::Sw8;

fn memory() -> common::Memory {
    common::start_with(|b| b.sample_rate(0.0))
}

#[test]
fn unsampled_traces_report_nothing_but_still_propagate() {
    let memory = memory();
    let mut headers: HashMap<String, String> = HashMap::new();
    let trace = {
        let _root = Span::local("root");
        let trace = common::current_trace();
        let exit = Span::exit("call", "peer:80");
        assert!(!exit.is_recording());
        exit.inject(&mut headers);
        trace
    };
    assert!(
        skywalking_runtime::trace_id().is_none(),
        "the context ended with its root"
    );
    let sw8 = Sw8::decode(&headers["sw8"]).expect("a valid sw8");
    assert!(!sw8.sample, "the sample flag says: not sampled");
    assert_eq!(sw8.trace_id, trace);
    assert!(memory.trace(&trace).is_empty());
    assert!(skywalking_runtime::stats().traces_unsampled >= 1);
}

#[test]
fn an_incoming_sampled_sw8_forces_sampling() {
    let memory = memory();
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_string(),
        "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=".to_string(),
    );
    {
        let entry = Span::entry("POST /pay", &headers);
        assert!(entry.is_recording());
    }
    assert_eq!(memory.trace("trace").len(), 1);
}

#[test]
fn an_incoming_unsampled_sw8_is_honoured() {
    let memory = memory();
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_string(),
        "0-dW5zYW1wbGVk-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=".to_string(),
    );
    {
        let entry = Span::entry("POST /pay", &headers);
        assert!(!entry.is_recording());
        assert_eq!(common::current_trace(), "unsampled");
    }
    assert!(memory.trace("unsampled").is_empty());
}

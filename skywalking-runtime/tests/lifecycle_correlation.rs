//! The correlation limits of the configuration (`SW_AGENT_CORRELATION_MAX_KEY_COUNT`,
//! `SW_AGENT_CORRELATION_MAX_VALUE_SIZE`) apply to traces started here and to incoming
//! `sw8-correlation` headers.

use std::collections::HashMap;

use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::{Agent, Config, Reporter, Span};

struct Discard;

impl Reporter for Discard {
    fn report(&mut self, _: Vec<SegmentObject>) {}
}

#[test]
fn configured_limits_apply_to_new_and_incoming_traces() {
    let _guard = Agent::builder()
        .config(Config::default())
        .correlation_limits(1, 4)
        .reporter(Discard)
        .start()
        .expect("agent starts");

    {
        let _root = Span::local("root");
        assert!(skywalking_runtime::set_correlation("k", "1234"));
        assert!(
            !skywalking_runtime::set_correlation("k2", "1"),
            "one key at most"
        );
        assert!(
            !skywalking_runtime::set_correlation("k", "12345"),
            "four bytes at most"
        );
        let data = skywalking_runtime::correlation().expect("a trace");
        assert_eq!(data.limits().max_keys, 1);
    }

    // Incoming: `a:1,b:2` (Base64) keeps only the first key.
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_owned(),
        "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=".to_owned(),
    );
    headers.insert(
        "sw8-correlation".to_owned(),
        "YQ==:MQ==,Yg==:Mg==".to_owned(),
    );
    let _entry = Span::entry("POST /pay", &headers);
    let data = skywalking_runtime::correlation().expect("a trace");
    assert_eq!(data.limits().max_keys, 1);
    assert_eq!(data.len(), 1);
}

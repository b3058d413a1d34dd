//! The span limit per segment: spans past it record nothing and the segment says so.

mod common;

use skywalking_runtime::Span;

#[test]
fn spans_past_the_limit_are_dropped_and_the_segment_is_marked() {
    let memory = common::start_with(|b| b.span_limit(5));
    let trace = {
        let _root = Span::local("root");
        for i in 0..10 {
            let child = Span::local(format!("child-{i}"));
            assert_eq!(child.is_recording(), i < 4, "span {i}");
        }
        common::current_trace()
    };
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].spans.len(), 5);
    assert!(segments[0].is_size_limited);
    let names: Vec<_> = segments[0]
        .spans
        .iter()
        .map(|s| s.operation_name.as_str())
        .collect();
    assert_eq!(names, ["root", "child-0", "child-1", "child-2", "child-3"]);
}

//! Renders the segments of a trace as one indented tree.
//!
//! Inside a segment, spans nest by `parentSpanId`. Across segments, a segment whose
//! span carries a ref to span P of segment S (the entry span of a callee, or the first
//! span of a cross-thread segment) is nested under span P of S. Siblings are ordered by
//! start time. One line per span:
//!
//! ```text
//! [frontend] Entry GET /checkout (12 ms)
//!   [frontend] Exit POST /pay -> payment:8080 (9 ms) [error]
//!     [payment] Entry POST /pay (7 ms) [error]
//! ```
//!
//! Any input renders without panicking: segments whose parent is missing become roots,
//! and spans or segments caught in a reference cycle are printed once, where the cycle
//! is first entered. Indentation stops growing past [`MAX_INDENT`] levels.

use std::collections::HashMap;
use std::fmt::Write as _;

use skywalking_proto::v3::{SegmentObject, SpanObject, SpanType};

/// Indentation (in levels of two spaces) beyond which lines show their depth instead.
pub const MAX_INDENT: usize = 32;

/// Renders `segments` (normally those of one trace) as an indented tree, one line per
/// span, each line ending with `\n`. An empty slice renders as an empty string.
///
/// # Example
///
/// ```
/// use skywalking_proto::v3::{SegmentObject, SpanObject, SpanType};
/// use skywalking_testkit::render_trace_tree;
///
/// let segment = SegmentObject {
///     trace_id: "t1".into(),
///     trace_segment_id: "s1".into(),
///     service: "shop".into(),
///     spans: vec![
///         SpanObject {
///             span_id: 0,
///             parent_span_id: -1,
///             start_time: 1_000,
///             end_time: 1_012,
///             operation_name: "GET /cart".into(),
///             span_type: SpanType::Entry as i32,
///             ..Default::default()
///         },
///         SpanObject {
///             span_id: 1,
///             parent_span_id: 0,
///             start_time: 1_002,
///             end_time: 1_010,
///             operation_name: "SELECT".into(),
///             peer: "db:5432".into(),
///             span_type: SpanType::Exit as i32,
///             is_error: true,
///             ..Default::default()
///         },
///     ],
///     ..Default::default()
/// };
/// assert_eq!(
///     render_trace_tree(&[segment]),
///     "[shop] Entry GET /cart (12 ms)\n  [shop] Exit SELECT -> db:5432 (8 ms) [error]\n"
/// );
/// ```
pub fn render_trace_tree(segments: &[SegmentObject]) -> String {
    Forest::new(segments).render()
}

/// What to do next in the depth-first walk (an explicit stack, so a deep chain of
/// spans cannot overflow the thread's stack).
enum Step {
    /// Render the root spans of segment `seg` at `depth`.
    Segment { seg: usize, depth: usize },
    /// Render span `span` of segment `seg`, then its children, at `depth`.
    Span {
        seg: usize,
        span: usize,
        depth: usize,
    },
}

/// A child of a span: another span of the same segment, or a whole segment.
#[derive(Clone, Copy)]
enum Child {
    Span(usize),
    Segment(usize),
}

struct Forest<'a> {
    segments: &'a [SegmentObject],
    /// (segment, span index) -> segments nested under that span.
    nested: HashMap<(usize, usize), Vec<usize>>,
    /// Per segment: span id -> indices of the spans whose parent it is.
    span_children: Vec<HashMap<i32, Vec<usize>>>,
    /// Per segment: index of the first span carrying each span id.
    span_by_id: Vec<HashMap<i32, usize>>,
    /// Segments that hang under another segment's span.
    attached: Vec<bool>,
    seen_segments: Vec<bool>,
    seen_spans: Vec<Vec<bool>>,
    out: String,
}

impl<'a> Forest<'a> {
    fn new(segments: &'a [SegmentObject]) -> Self {
        let mut segment_by_id: HashMap<&str, usize> = HashMap::new();
        for (i, segment) in segments.iter().enumerate() {
            segment_by_id
                .entry(segment.trace_segment_id.as_str())
                .or_insert(i);
        }
        let span_by_id: Vec<HashMap<i32, usize>> = segments
            .iter()
            .map(|segment| {
                let mut ids = HashMap::new();
                for (i, span) in segment.spans.iter().enumerate() {
                    ids.entry(span.span_id).or_insert(i);
                }
                ids
            })
            .collect();
        let span_children = segments
            .iter()
            .zip(&span_by_id)
            .map(|(segment, ids)| {
                let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
                for (i, span) in segment.spans.iter().enumerate() {
                    let parent_is_another_span = ids
                        .get(&span.parent_span_id)
                        .is_some_and(|&parent| parent != i);
                    if parent_is_another_span {
                        children.entry(span.parent_span_id).or_default().push(i);
                    }
                }
                children
            })
            .collect();

        let mut nested: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
        let mut attached = vec![false; segments.len()];
        for (i, segment) in segments.iter().enumerate() {
            let parent = segment
                .spans
                .iter()
                .flat_map(|span| &span.refs)
                .find_map(|r| {
                    let parent_seg = *segment_by_id.get(r.parent_trace_segment_id.as_str())?;
                    let parent_span = *span_by_id[parent_seg].get(&r.parent_span_id)?;
                    (parent_seg != i).then_some((parent_seg, parent_span))
                });
            if let Some(at) = parent {
                nested.entry(at).or_default().push(i);
                attached[i] = true;
            }
        }

        Self {
            segments,
            nested,
            span_children,
            span_by_id,
            attached,
            seen_segments: vec![false; segments.len()],
            seen_spans: segments
                .iter()
                .map(|s| vec![false; s.spans.len()])
                .collect(),
            out: String::new(),
        }
    }

    fn render(mut self) -> String {
        // Unattached segments first, by start time; then any segment a cycle kept
        // out of reach.
        let mut roots: Vec<usize> = (0..self.segments.len())
            .filter(|&i| !self.attached[i])
            .collect();
        roots.sort_by_key(|&i| (segment_start(&self.segments[i]), i));
        roots.extend((0..self.segments.len()).filter(|&i| self.attached[i]));
        for seg in roots {
            if !self.seen_segments[seg] {
                self.walk(Step::Segment { seg, depth: 0 });
            }
        }
        self.out
    }

    fn walk(&mut self, first: Step) {
        let mut stack = vec![first];
        while let Some(step) = stack.pop() {
            match step {
                Step::Segment { seg, depth } => {
                    if std::mem::replace(&mut self.seen_segments[seg], true) {
                        continue;
                    }
                    let roots = self.root_spans(seg);
                    for span in roots.into_iter().rev() {
                        stack.push(Step::Span { seg, span, depth });
                    }
                }
                Step::Span { seg, span, depth } => {
                    if std::mem::replace(&mut self.seen_spans[seg][span], true) {
                        continue;
                    }
                    self.line(seg, span, depth);
                    for child in self.children(seg, span).into_iter().rev() {
                        stack.push(match child {
                            Child::Span(span) => Step::Span {
                                seg,
                                span,
                                depth: depth + 1,
                            },
                            Child::Segment(seg) => Step::Segment {
                                seg,
                                depth: depth + 1,
                            },
                        });
                    }
                }
            }
        }
    }

    /// Spans of `seg` without a parent in `seg`, by start time, then the spans a
    /// parent cycle keeps out of reach of those roots.
    fn root_spans(&self, seg: usize) -> Vec<usize> {
        let spans = &self.segments[seg].spans;
        let ids = &self.span_by_id[seg];
        let mut roots: Vec<usize> = (0..spans.len())
            .filter(|&i| {
                ids.get(&spans[i].parent_span_id)
                    .is_none_or(|&parent| parent == i)
            })
            .collect();
        roots.sort_by_key(|&i| (spans[i].start_time, i));

        let mut reached = vec![false; spans.len()];
        let mut todo = roots.clone();
        loop {
            while let Some(i) = todo.pop() {
                if std::mem::replace(&mut reached[i], true) {
                    continue;
                }
                if ids.get(&spans[i].span_id) == Some(&i)
                    && let Some(children) = self.span_children[seg].get(&spans[i].span_id)
                {
                    todo.extend(children);
                }
            }
            match reached.iter().position(|r| !r) {
                Some(orphan) => {
                    roots.push(orphan);
                    todo.push(orphan);
                }
                None => return roots,
            }
        }
    }

    /// Child spans and nested segments of span `span` of `seg`, by start time.
    fn children(&self, seg: usize, span: usize) -> Vec<Child> {
        let spans = &self.segments[seg].spans;
        let id = spans[span].span_id;
        let mut children: Vec<(i64, u8, usize, Child)> = Vec::new();
        // Only the first span with a given id owns its children: ids should be unique.
        if self.span_by_id[seg].get(&id) == Some(&span) {
            for &child in self.span_children[seg].get(&id).into_iter().flatten() {
                children.push((spans[child].start_time, 0, child, Child::Span(child)));
            }
        }
        for &nested in self.nested.get(&(seg, span)).into_iter().flatten() {
            let start = segment_start(&self.segments[nested]);
            children.push((start, 1, nested, Child::Segment(nested)));
        }
        children.sort_by_key(|&(start, kind, index, _)| (start, kind, index));
        children.into_iter().map(|(.., child)| child).collect()
    }

    fn line(&mut self, seg: usize, span: usize, depth: usize) {
        let segment = &self.segments[seg];
        let span = &segment.spans[span];
        let out = &mut self.out;
        for _ in 0..depth.min(MAX_INDENT) {
            out.push_str("  ");
        }
        if depth > MAX_INDENT {
            let _ = write!(out, "(depth {depth}) ");
        }
        let _ = write!(
            out,
            "[{}] {} {}",
            segment.service,
            kind(span),
            span.operation_name
        );
        if !span.peer.is_empty() {
            let _ = write!(out, " -> {}", span.peer);
        }
        let _ = write!(
            out,
            " ({} ms)",
            span.end_time.saturating_sub(span.start_time)
        );
        if span.is_error {
            out.push_str(" [error]");
        }
        out.push('\n');
    }
}

fn kind(span: &SpanObject) -> String {
    match SpanType::try_from(span.span_type) {
        Ok(kind) => kind.as_str_name().to_owned(),
        Err(_) => format!("SpanType({})", span.span_type),
    }
}

fn segment_start(segment: &SegmentObject) -> i64 {
    segment
        .spans
        .iter()
        .map(|span| span.start_time)
        .min()
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use skywalking_proto::v3::{RefType, SegmentReference};

    use super::*;

    fn span(id: i32, parent: i32, kind: SpanType, op: &str, start: i64, end: i64) -> SpanObject {
        SpanObject {
            span_id: id,
            parent_span_id: parent,
            start_time: start,
            end_time: end,
            operation_name: op.into(),
            span_type: kind as i32,
            ..Default::default()
        }
    }

    fn segment(id: &str, service: &str, spans: Vec<SpanObject>) -> SegmentObject {
        SegmentObject {
            trace_id: "t".into(),
            trace_segment_id: id.into(),
            service: service.into(),
            service_instance: format!("{service}-1"),
            spans,
            is_size_limited: false,
        }
    }

    fn with_ref(mut span: SpanObject, parent_segment: &str, parent_span: i32) -> SpanObject {
        span.refs.push(SegmentReference {
            ref_type: RefType::CrossProcess as i32,
            trace_id: "t".into(),
            parent_trace_segment_id: parent_segment.into(),
            parent_span_id: parent_span,
            ..Default::default()
        });
        span
    }

    #[test]
    fn nests_segments_under_the_referenced_span_in_start_order() {
        let mut exit_b = span(1, 0, SpanType::Exit, "call b", 10, 40);
        exit_b.peer = "b:80".into();
        let mut exit_c = span(2, 0, SpanType::Exit, "call c", 50, 60);
        exit_c.peer = "c:80".into();
        let a = segment(
            "a",
            "svc-a",
            vec![
                span(0, -1, SpanType::Entry, "GET /", 0, 100),
                exit_c,
                exit_b,
            ],
        );
        let b = segment(
            "b",
            "svc-b",
            vec![with_ref(span(0, -1, SpanType::Entry, "/b", 12, 38), "a", 1)],
        );
        let c = segment(
            "c",
            "svc-c",
            vec![
                with_ref(span(0, -1, SpanType::Entry, "/c", 51, 59), "a", 2),
                span(1, 0, SpanType::Local, "work", 52, 53),
            ],
        );
        // Arrival order is callee first, as agents report when each segment ends.
        let tree = render_trace_tree(&[c, b, a]);
        assert_eq!(
            tree,
            "\
[svc-a] Entry GET / (100 ms)
  [svc-a] Exit call b -> b:80 (30 ms)
    [svc-b] Entry /b (26 ms)
  [svc-a] Exit call c -> c:80 (10 ms)
    [svc-c] Entry /c (8 ms)
      [svc-c] Local work (1 ms)
"
        );
    }

    #[test]
    fn missing_parent_segment_makes_a_root() {
        let b = segment(
            "b",
            "svc-b",
            vec![with_ref(
                span(0, -1, SpanType::Entry, "/b", 5, 6),
                "gone",
                1,
            )],
        );
        assert_eq!(render_trace_tree(&[b]), "[svc-b] Entry /b (1 ms)\n");
        assert_eq!(render_trace_tree(&[]), "");
    }

    #[test]
    fn cycles_and_garbage_render_every_span_once() {
        // Spans 1 and 2 are each other's parent; segments x and y reference each other;
        // segment z references itself; one span has an unknown type.
        let x = segment(
            "x",
            "x",
            vec![
                with_ref(span(0, -1, SpanType::Entry, "x0", 0, 1), "y", 0),
                span(1, 2, SpanType::Local, "x1", 0, 1),
                span(2, 1, SpanType::Local, "x2", 0, 1),
                SpanObject {
                    span_type: 42,
                    ..span(3, 3, SpanType::Local, "x3", 5, 1)
                },
            ],
        );
        let y = segment(
            "y",
            "y",
            vec![with_ref(span(0, -1, SpanType::Entry, "y0", 0, 1), "x", 0)],
        );
        let z = segment(
            "z",
            "z",
            vec![with_ref(
                span(0, 0, SpanType::Entry, "z0", i64::MIN, i64::MAX),
                "z",
                0,
            )],
        );
        let tree = render_trace_tree(&[x, y, z]);
        for op in ["x0", "x1", "x2", "x3", "y0", "z0"] {
            let count = tree
                .lines()
                .filter(|l| l.trim_start().split(' ').nth(2) == Some(op))
                .count();
            assert_eq!(count, 1, "{op} in\n{tree}");
        }
        assert!(tree.contains("SpanType(42) x3 (-4 ms)"), "{tree}");
    }

    #[test]
    fn a_very_deep_chain_neither_overflows_nor_explodes() {
        let spans: Vec<SpanObject> = (0..100_000)
            .map(|i| span(i, i - 1, SpanType::Local, "deep", 0, 0))
            .collect();
        let tree = render_trace_tree(&[segment("d", "d", spans)]);
        assert_eq!(tree.lines().count(), 100_000);
        let last = tree.lines().last().unwrap();
        assert!(last.starts_with(&format!("{}(depth 99999)", "  ".repeat(MAX_INDENT))));
    }
}

//! Every `sw8` header this agent writes decodes, field for field, with the official
//! SkyWalking Python agent's own decoder.
//!
//! Each case opens real spans (nested entry and local spans, siblings that fill the
//! segment up to and past its span limit, an exit span), names them with long Unicode
//! text, `-`, `/`, `=` and emoji, gives the exit span long peers, sets correlation data,
//! then injects the exit span's headers. The headers go to
//! `tests/python-interop/decode_sw8.py`, one Python process per test, which
//! decodes them with `skywalking.trace.carrier.Carrier` and extracts them on an
//! `EntrySpan`, as the Python agent's HTTP server plugin does. For each case:
//!
//! - the header is valid for Python (`Carrier.is_valid`, not suppressed) and for our own
//!   `Sw8::decode`, and both decode exactly the fields the span state calls for: the
//!   trace and segment ids, the exit span's id (past the span limit: the innermost
//!   recorded span), the service and instance, the first entry span's name cut at 150
//!   characters (else the first span's; `N/A` if empty) and the peer cut at 300 bytes
//!   (`N/A` if empty);
//! - the `SegmentRef` Python builds carries the same fields, the entry span joins the
//!   trace, and the correlation data decodes to the same pairs.
//!
//! At the end the agent flushes, and each header must name a segment that was reported,
//! holding the span it names (the exit span itself, with that peer, unless the span
//! limit kept it out) and whose first entry span is the named endpoint.
//!
//! A table of hard cases runs first, then `proptest` cases (128 by default,
//! `PROPTEST_CASES` to change). Needs the venv of `tests/python-interop/setup.sh` in
//! `SW_PYTHON_INTEROP_VENV` (skipped without it, except under CI, where it fails).
//!
//! The second test does the same for spans renamed (`SpanRef::set_operation_name`) or
//! given a peer (`SpanRef::set_peer`) after they opened: the same caps apply there.
//!
//! This file is a test process of its own, with one agent shared by its tests.

#[path = "python_interop/support.rs"]
mod support;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestError, TestRunner};
use serde_json::{Value, json};
use skywalking_proto::v3::{SegmentObject, SpanType};
use skywalking_runtime as sw;
use skywalking_runtime::Span;
use skywalking_runtime::propagation::Sw8;

/// This agent's service and instance names (fields 5 and 6), with the characters of
/// interest in them too.
const SERVICE: &str = "rust-sw8/probe=α-🦀";
const INSTANCE: &str = "probe-1/β=γ-🦀@127.0.0.1";
/// A small span limit, so that the cases reach it often.
const SPAN_LIMIT: usize = 8;
/// Operation names are cut at 150 characters, peers at 300 bytes.
const MAX_NAME_CHARS: usize = 150;
const MAX_PEER_BYTES: usize = 300;
/// The spec's cap on an `sw8` value.
const SW8_MAX_LEN: usize = 2048;

/// Collects the segments the agent reports.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<SegmentObject>>>);

impl sw::Reporter for Capture {
    fn report(&mut self, segments: Vec<SegmentObject>) {
        self.0.lock().unwrap().extend(segments);
    }
}

/// `decode_sw8.py`, running in the venv: one JSON line of headers in, one JSON line of
/// what the Python agent made of them out.
struct PyDecoder {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PyDecoder {
    fn start(venv: &Path) -> Self {
        let python = venv.join("bin/python");
        let mut command = Command::new(&python);
        command.arg("-u").arg(support::script("decode_sw8.py"));
        for key in support::sw_variables() {
            command.env_remove(key);
        }
        let mut child = command
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        PyDecoder {
            child,
            stdin,
            stdout,
        }
    }

    fn decode(&mut self, headers: &HashMap<String, String>) -> Value {
        let mut line = serde_json::to_string(headers).expect("headers as JSON");
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
            .expect("decode_sw8.py takes a line (its stderr is above)");
        let mut answer = String::new();
        let n = self
            .stdout
            .read_line(&mut answer)
            .expect("decode_sw8.py answers");
        assert!(n > 0, "decode_sw8.py exited (its stderr is above)");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
    }
}

impl Drop for PyDecoder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Entry,
    Local,
}

/// A span state to inject from.
#[derive(Debug, Clone, Default)]
struct Case {
    /// The spans the exit span opens in, outermost first. Empty: the exit span is the
    /// first span of its segment (its name is then the endpoint).
    parents: Vec<(Kind, String)>,
    /// Local spans opened and closed in the innermost parent before the exit span opens
    /// (they fill the segment toward the span limit). Ignored without parents.
    closed_before: usize,
    exit_name: String,
    peer: String,
    /// `set_operation_name` once open: on parent `i`, or on the exit span for
    /// `i == parents.len()`.
    rename: Option<(usize, String)>,
    /// `set_peer` on the exit span once open.
    repeer: Option<String>,
    /// `set_correlation` calls, in order.
    correlation: Vec<(String, String)>,
}

impl Case {
    fn new(parents: &[(Kind, &str)], exit_name: &str, peer: &str) -> Case {
        Case {
            parents: parents
                .iter()
                .map(|(kind, name)| (*kind, (*name).to_owned()))
                .collect(),
            exit_name: exit_name.to_owned(),
            peer: peer.to_owned(),
            ..Case::default()
        }
    }

    fn closed_before(&self) -> usize {
        if self.parents.is_empty() {
            0
        } else {
            self.closed_before
        }
    }
}

/// What the header of a case must carry, from the span model: span ids in opening
/// order, spans from index `SPAN_LIMIT` on kept out.
#[derive(Debug)]
struct Expected {
    span_id: i32,
    endpoint: String,
    address: String,
    exit_recorded: bool,
    size_limited: bool,
}

fn cut_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn cut_bytes(s: &str, max: usize) -> String {
    let mut at = s.len().min(max);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    s[..at].to_owned()
}

fn or_na(s: String) -> String {
    if s.is_empty() { "N/A".to_owned() } else { s }
}

fn expected(case: &Case) -> Expected {
    let n = case.parents.len();
    let exit_index = n + case.closed_before();
    let exit_recorded = exit_index < SPAN_LIMIT;
    // The recorded spans, in opening order: (is an entry span, name).
    let mut spans: Vec<(bool, &str)> = case
        .parents
        .iter()
        .map(|(kind, name)| (*kind == Kind::Entry, name.as_str()))
        .chain((0..case.closed_before()).map(|_| (false, "closed")))
        .chain([(false, case.exit_name.as_str())])
        .take(SPAN_LIMIT)
        .collect();
    if let Some((target, name)) = &case.rename {
        let index = if *target < n { *target } else { exit_index };
        if let Some(span) = spans.get_mut(index) {
            span.1 = name;
        }
    }
    let endpoint = spans
        .iter()
        .find(|(entry, _)| *entry)
        .or(spans.first())
        .map_or("", |(_, name)| name);
    let peer = match &case.repeer {
        Some(peer) if exit_recorded => peer,
        _ => &case.peer,
    };
    Expected {
        // Past the limit: the innermost recorded parent, which is still open.
        span_id: i32::try_from(if exit_recorded {
            exit_index
        } else {
            n.min(SPAN_LIMIT) - 1
        })
        .expect("a small span id"),
        endpoint: or_na(cut_chars(endpoint, MAX_NAME_CHARS)),
        address: or_na(cut_bytes(peer, MAX_PEER_BYTES)),
        exit_recorded,
        size_limited: exit_index + 1 > SPAN_LIMIT,
    }
}

/// What a case injected, read from the live trace.
struct Injected {
    headers: HashMap<String, String>,
    trace_id: String,
    segment_id: String,
    correlation: BTreeMap<String, String>,
}

/// Opens the spans of `case`, injects from its exit span, closes everything.
fn inject(case: &Case) -> Injected {
    let no_headers = HashMap::<String, String>::new();
    let mut parents: Vec<Span> = Vec::new();
    for (kind, name) in &case.parents {
        parents.push(match kind {
            Kind::Entry => Span::entry(name.clone(), &no_headers),
            Kind::Local => Span::local(name.clone()),
        });
    }
    for _ in 0..case.closed_before() {
        let _closed = Span::local("closed");
    }
    let exit = Span::exit(case.exit_name.clone(), case.peer.clone());
    if let Some((target, name)) = &case.rename {
        match parents.get(*target) {
            Some(parent) => parent.set_operation_name(name.clone()),
            None => exit.set_operation_name(name.clone()),
        }
    }
    if let Some(peer) = &case.repeer {
        exit.set_peer(peer.clone());
    }
    for (key, value) in &case.correlation {
        sw::set_correlation(key, value);
    }
    let correlation = sw::correlation()
        .map(|c| {
            c.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let trace_id = sw::trace_id().expect("a trace is active").to_string();
    let segment_id = sw::segment_id().expect("a segment is recorded").to_string();
    let mut headers = HashMap::new();
    exit.inject(&mut headers);
    drop(exit);
    while let Some(parent) = parents.pop() {
        drop(parent);
    }
    Injected {
        headers,
        trace_id,
        segment_id,
        correlation,
    }
}

/// A header checked against Python, to check against the reported segments later.
#[derive(Debug)]
struct Checked {
    case: Case,
    trace_id: String,
    segment_id: String,
    expected: Expected,
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// Runs `case` and checks its header with both decoders, reporting every difference.
fn check(decoder: &mut PyDecoder, case: &Case) -> Result<Checked, TestCaseError> {
    let expected = expected(case);
    let injected = inject(case);
    let Some(sw8) = injected.headers.get("sw8") else {
        return Err(fail(format!("no sw8 injected: {:?}", injected.headers)));
    };
    let want = Sw8 {
        sample: true,
        trace_id: injected.trace_id.clone(),
        parent_segment_id: injected.segment_id.clone(),
        parent_span_id: expected.span_id,
        parent_service: SERVICE.to_owned(),
        parent_service_instance: INSTANCE.to_owned(),
        parent_endpoint: expected.endpoint.clone(),
        address_used_at_client: expected.address.clone(),
    };
    let mut problems = Vec::new();
    if sw8.len() > SW8_MAX_LEN {
        problems.push(format!(
            "{} bytes, over the spec's {SW8_MAX_LEN}",
            sw8.len()
        ));
    }

    // The Python agent's decoder.
    let answer = decoder.decode(&injected.headers);
    if let Some(error) = answer.get("error") {
        problems.push(format!(
            "the Python agent's code raised:\n{}",
            error.as_str().unwrap_or_default()
        ));
    } else {
        let fields = json!({
            "trace_id": want.trace_id,
            "segment_id": want.parent_segment_id,
            "span_id": want.parent_span_id.to_string(),
            "service": want.parent_service,
            "service_instance": want.parent_service_instance,
            "endpoint": want.parent_endpoint,
            "client_address": want.address_used_at_client,
        });
        let mut reference = fields.clone();
        reference["span_id"] = json!(want.parent_span_id);
        reference["ref_type"] = json!("CrossProcess");
        let checks = [
            ("Carrier.is_valid", &answer["valid"], json!(true)),
            ("Carrier.is_suppressed", &answer["suppressed"], json!(false)),
            ("the decoded Carrier", &answer["carrier"], fields),
            ("the SegmentRef", &answer["ref"], reference),
            (
                "the trace the entry span joins",
                &answer["joined_trace"],
                json!(want.trace_id),
            ),
            (
                "the correlation",
                &answer["correlation"],
                json!(injected.correlation),
            ),
        ];
        for (what, got, want) in checks {
            if *got != want {
                problems.push(format!("Python: {what} is {got}, expected {want}"));
            }
        }
    }

    // Ours (the rules of the Java agent's ContextCarrier.isValid, plus field caps).
    match Sw8::decode(sw8) {
        Ok(ours) if ours == want => {}
        Ok(ours) => problems.push(format!("Sw8::decode: {ours:#?}, expected {want:#?}")),
        Err(e) => problems.push(format!("Sw8::decode rejects it: {e}")),
    }

    if !problems.is_empty() {
        return Err(fail(format!(
            "sw8 {sw8}\nsw8-correlation {:?}\n- {}",
            injected.headers.get("sw8-correlation"),
            problems.join("\n- ")
        )));
    }
    Ok(Checked {
        case: case.clone(),
        trace_id: injected.trace_id,
        segment_id: injected.segment_id,
        expected,
    })
}

/// Checks that the header of `checked` names a reported segment and span.
fn check_reported(checked: &Checked, segments: &[SegmentObject]) {
    let what = format!(
        "header naming segment {} of trace {}, expected {:#?}, from {:#?}",
        checked.segment_id, checked.trace_id, checked.expected, checked.case
    );
    let segment = segments
        .iter()
        .find(|s| s.trace_segment_id == checked.segment_id)
        .unwrap_or_else(|| panic!("the segment the header names was never reported: {what}"));
    assert_eq!(segment.trace_id, checked.trace_id, "{what}");
    assert_eq!(
        segment.is_size_limited, checked.expected.size_limited,
        "isSizeLimited: {what}"
    );
    let span = segment
        .spans
        .iter()
        .find(|s| s.span_id == checked.expected.span_id)
        .unwrap_or_else(|| panic!("the segment has no span the header names: {what}"));
    if checked.expected.exit_recorded {
        assert_eq!(span.span_type, SpanType::Exit as i32, "{what}");
        assert_eq!(
            or_na(span.peer.clone()),
            checked.expected.address,
            "the exit span's peer is the header's address: {what}"
        );
    }
    let first = segment
        .spans
        .iter()
        .find(|s| s.span_type == SpanType::Entry as i32)
        .or(segment.spans.first())
        .expect("a span");
    assert_eq!(
        or_na(first.operation_name.clone()),
        checked.expected.endpoint,
        "the header's endpoint is the segment's first entry span: {what}"
    );
}

/// The cases known to be hard.
fn hard_cases() -> Vec<(&'static str, Case)> {
    use Kind::{Entry, Local};
    let mixed = format!("GET /a-b/c=d/{}", "é🦀-/=".repeat(40));
    let many: Vec<(Kind, String)> = (0..11)
        .map(|i| {
            let kind = if i % 3 == 0 { Entry } else { Local };
            (kind, format!("level-{i}/=🦀"))
        })
        .collect();
    vec![
        (
            "an entry named 213 mixed characters, a peer of 400 bytes of emoji",
            Case::new(&[(Entry, &mixed)], "GET /x", &"🦀".repeat(100)),
        ),
        (
            "the longest endpoint: 150 emoji (600 bytes) of 151",
            Case::new(&[(Entry, &"🦀".repeat(151))], "call", "h:1"),
        ),
        (
            "an exit span first in its segment, named 151 ASCII characters",
            Case::new(&[], &"a".repeat(151), "h-o=s/t:80"),
        ),
        (
            "a peer of 302 bytes cut inside an emoji",
            Case::new(&[(Local, "job")], "call", &format!("{}🦀", "a".repeat(298))),
        ),
        (
            "a peer of exactly 300 bytes",
            Case::new(&[(Local, "job")], "call", &"p".repeat(300)),
        ),
        (
            "empty names and peer: N/A",
            Case::new(&[(Local, "")], "", ""),
        ),
        (
            "the first entry span nested under a local span",
            Case::new(
                &[
                    (Local, "job"),
                    (Entry, "GET /api/-/x=y"),
                    (Local, "inner"),
                    (Entry, "second entry"),
                ],
                "call",
                "db:5432",
            ),
        ),
        (
            "the exit span is the last one the limit lets in",
            Case {
                closed_before: SPAN_LIMIT - 2,
                ..Case::new(&[(Entry, "GET /full")], "last", "h:1")
            },
        ),
        (
            "closed siblings reach the limit: the header names the entry span",
            Case {
                closed_before: SPAN_LIMIT - 1,
                ..Case::new(&[(Entry, "GET /limit")], "kept out", &"x".repeat(320))
            },
        ),
        (
            "nested past the limit: the header names the innermost recorded span",
            Case {
                parents: many,
                ..Case::new(&[], "deep", "🦀:80")
            },
        ),
        (
            "three correlation keys with -, /, = and emoji",
            Case {
                correlation: vec![
                    ("k-1/=".to_owned(), "🦀".repeat(32)),
                    ("ключ".to_owned(), "v=a-l/ue".to_owned()),
                    ("🦀".to_owned(), "x".repeat(128)),
                ],
                ..Case::new(&[(Entry, "GET /corr")], "call", "h:1")
            },
        ),
    ]
}

/// Hard cases of spans renamed (`set_operation_name`) or given a peer (`set_peer`) once
/// open.
fn renamed_hard_cases() -> Vec<(&'static str, Case)> {
    use Kind::{Entry, Local};
    vec![
        (
            "an entry span renamed to 200 emoji once open",
            Case {
                rename: Some((0, "🦀".repeat(200))),
                ..Case::new(&[(Entry, "GET /before")], "call", "h:1")
            },
        ),
        (
            "an entry span renamed to 151 ASCII characters once open",
            Case {
                rename: Some((1, "r".repeat(151))),
                ..Case::new(&[(Local, "job"), (Entry, "GET /before")], "call", "h:1")
            },
        ),
        (
            "an exit span first in its segment renamed to 160 emoji",
            Case {
                rename: Some((0, "😀".repeat(160))),
                ..Case::new(&[], "call", "h:1")
            },
        ),
        (
            "an exit span given a peer of 400 bytes once open",
            Case {
                repeer: Some("🦀".repeat(100)),
                ..Case::new(&[(Entry, "GET /peer")], "call", "h:1")
            },
        ),
        (
            "an exit span past the limit given a long peer (no effect: it records nothing)",
            Case {
                closed_before: SPAN_LIMIT,
                repeer: Some("x".repeat(400)),
                ..Case::new(&[(Entry, "GET /limit")], "call", "h:1")
            },
        ),
    ]
}

fn chars_from(
    chars: &'static [char],
    len: std::ops::RangeInclusive<usize>,
) -> BoxedStrategy<String> {
    prop::collection::vec(prop::sample::select(chars), len)
        .prop_map(|chars| chars.into_iter().collect())
        .boxed()
}

const MIXED: &[char] = &['🦀', '😀', '-', '/', '=', 'é', '中', 'a', '+', ' '];

fn name() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[-/=a-zA-Z0-9_. ?&:]{0,24}",
        2 => "\\PC{0,40}",
        2 => chars_from(MIXED, 140..=220),
        1 => "[-/=a-z]{145,160}",
        1 => any::<String>(),
    ]
    .boxed()
}

fn peer() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-z0-9.-]{1,30}:[0-9]{1,5}",
        1 => Just(String::new()),
        2 => chars_from(MIXED, 60..=140),
        2 => "[a-z0-9.=/-]{290,310}",
        1 => "\\PC{0,80}",
    ]
    .boxed()
}

/// Span states; with `renames`, spans are also renamed or given a peer once open
/// (`set_operation_name`, `set_peer`).
fn cases(renames: bool) -> impl Strategy<Value = Case> {
    let kind = prop_oneof![Just(Kind::Entry), Just(Kind::Local)];
    let correlation = prop::collection::vec(("\\PC{1,12}", "\\PC{0,40}"), 0..=4);
    (
        prop::collection::vec((kind, name()), 0..=SPAN_LIMIT + 3),
        0..=SPAN_LIMIT + 2,
        name(),
        peer(),
        prop::option::weighted(0.7, (0..=SPAN_LIMIT + 3, name())),
        prop::option::weighted(0.5, peer()),
        correlation,
    )
        .prop_map(
            move |(parents, closed_before, exit_name, peer, rename, repeer, correlation)| {
                let rename = rename
                    .filter(|_| renames)
                    .map(|(at, name)| (at % (parents.len() + 1), name));
                let repeer = repeer.filter(|_| renames);
                Case {
                    parents,
                    closed_before,
                    exit_name,
                    peer,
                    rename,
                    repeer,
                    correlation,
                }
            },
        )
}

/// The agent of this test process (one per process), shared by its tests, and the
/// segments it reported.
fn agent() -> &'static (sw::Agent, Capture) {
    static AGENT: OnceLock<(sw::Agent, Capture)> = OnceLock::new();
    AGENT.get_or_init(|| {
        let capture = Capture::default();
        let agent = sw::Agent::builder()
            .config(sw::Config::default())
            .service(SERVICE)
            .instance(INSTANCE)
            .span_limit(SPAN_LIMIT)
            .reporter(capture.clone())
            .start()
            .expect("agent starts");
        (agent, capture)
    })
}

/// Checks the headers of the `table` cases, then of `cases` generated ones, with one
/// Python process; then that each names a segment and span that were reported.
fn check_all(test: &str, table: Vec<(&'static str, Case)>, cases: impl Strategy<Value = Case>) {
    let Some(venv) = support::venv(test) else {
        return;
    };
    let (agent, capture) = agent();
    let decoder = RefCell::new(PyDecoder::start(&venv));
    let checked = RefCell::new(Vec::new());

    let mut failures = Vec::new();
    for (what, case) in table {
        match check(&mut decoder.borrow_mut(), &case) {
            Ok(c) => checked.borrow_mut().push(c),
            Err(e) => failures.push(format!("{what}: {e}\n{case:#?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{test}: {} hard case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );

    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 128;
    }
    config.failure_persistence = None;
    let mut runner = TestRunner::new(config);
    let result = runner.run(&cases, |case| {
        let c = check(&mut decoder.borrow_mut(), &case)?;
        checked.borrow_mut().push(c);
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => {
            panic!("{test}: {reason}\nminimal failing case: {case:#?}")
        }
        Err(e) => panic!("{test}: {e}"),
    }

    assert!(agent.flush(Duration::from_secs(10)), "the agent flushes");
    let segments = capture.0.lock().unwrap().clone();
    let checked = checked.into_inner();
    for c in &checked {
        check_reported(c, &segments);
    }
    eprintln!(
        "{test}: {} headers decoded by the Python agent as written",
        checked.len()
    );
}

#[test]
fn every_sw8_we_write_decodes_with_the_python_agent() {
    check_all("python_interop_sw8", hard_cases(), cases(false));
}

/// The same check for spans renamed or given a peer once open.
#[test]
fn sw8_of_renamed_spans_decodes_with_the_python_agent() {
    check_all(
        "python_interop_sw8 (renamed spans)",
        renamed_hard_cases(),
        cases(true),
    );
}

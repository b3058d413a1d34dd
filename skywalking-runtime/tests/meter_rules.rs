//! The MAL rule file this repository ships for OAP (`oap/meter-analyzer-config/
//! rust-runtime.yaml`) against the meters the agent really sends: OAP drops, without an
//! error, every meter no active rule names, so every meter the agent sends by default must
//! be named there (or by OAP's default `threadpool.yaml`, for `thread_pool`), and every
//! rule must name a meter the agent sends. The names come from a real collection, taken
//! through a custom `Reporter`, so a new built-in meter without a rule fails here. The
//! dashboard template (`oap/ui-initialized-templates/general/rust-instance.json`) must
//! chart only metrics that OAP defines from these rules.
//!
//! The MAL check is deliberately simple: an expression's sample names are its
//! identifiers outside quotes and closures that neither follow a `.` nor open a call.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use skywalking_proto::v3::{LogData, MeterData, MeterDataCollection, SegmentObject};
use skywalking_runtime::{Agent, Config, Reporter};
use yaml_rust2::YamlLoader;

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../oap/meter-analyzer-config/rust-runtime.yaml"
);
const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../oap/ui-initialized-templates/general/rust-instance.json"
);

/// The meter OAP's default `threadpool.yaml` names (stored as `meter_thread_pool`).
const THREAD_POOL: &str = "thread_pool";
/// The `metric_type` values of the Java agent's `thread_pool` meters.
const JAVA_METRIC_TYPES: [&str; 7] = [
    "core_pool_size",
    "max_pool_size",
    "pool_size",
    "active_size",
    "queue_size",
    "task_count",
    "completed_task_count",
];

/// The shipped rule file, read.
struct Rules {
    exp_suffix: String,
    metric_prefix: String,
    /// Rule name -> the sample (meter) names its expression reads.
    rules: BTreeMap<String, BTreeSet<String>>,
}

fn read_rules() -> Rules {
    let text = std::fs::read_to_string(RULES).expect("the MAL rule file");
    let docs = YamlLoader::load_from_str(&text).expect("the MAL rule file is YAML");
    assert_eq!(docs.len(), 1, "one YAML document");
    let doc = &docs[0];
    let string = |key: &str| {
        doc[key]
            .as_str()
            .unwrap_or_else(|| panic!("`{key}` is a string"))
            .to_owned()
    };
    let mut rules = BTreeMap::new();
    let list = doc["metricsRules"]
        .as_vec()
        .expect("`metricsRules` is a list");
    for rule in list {
        let name = rule["name"].as_str().expect("a rule's `name`").to_owned();
        let exp = rule["exp"].as_str().expect("a rule's `exp`");
        let samples = sample_names(exp);
        assert!(!samples.is_empty(), "rule {name}: no meter in `{exp}`");
        assert!(
            rules.insert(name.clone(), samples).is_none(),
            "rule {name} twice: OAP defines each metric once"
        );
    }
    Rules {
        exp_suffix: string("expSuffix"),
        metric_prefix: string("metricPrefix"),
        rules,
    }
}

/// The sample names a MAL expression reads.
fn sample_names(exp: &str) -> BTreeSet<String> {
    let chars: Vec<char> = exp.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut depth_braces = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '{' {
            depth_braces += 1;
        } else if c == '}' {
            depth_braces = depth_braces.saturating_sub(1);
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            let before = chars[..start].iter().rev().find(|c| !c.is_whitespace());
            let after = chars[i..].iter().find(|c| !c.is_whitespace());
            if depth_braces == 0 && before != Some(&'.') && after != Some(&'(') {
                names.insert(ident);
            }
            continue;
        }
        i += 1;
    }
    names
}

struct Capture(mpsc::Sender<Vec<MeterDataCollection>>);

impl Reporter for Capture {
    fn report(&mut self, _segments: Vec<SegmentObject>) {}

    fn report_logs(&mut self, _logs: Vec<LogData>) {}

    fn report_meters(&mut self, meters: Vec<MeterDataCollection>) {
        let _ = self.0.send(meters);
    }
}

fn name_of(data: &MeterData) -> &str {
    use skywalking_proto::v3::meter_data::Metric;
    match &data.metric {
        Some(Metric::SingleValue(v)) => &v.name,
        Some(Metric::Histogram(h)) => &h.name,
        None => "",
    }
}

fn labels_of(data: &MeterData) -> BTreeMap<String, String> {
    use skywalking_proto::v3::meter_data::Metric;
    let labels = match &data.metric {
        Some(Metric::SingleValue(v)) => &v.labels,
        Some(Metric::Histogram(h)) => &h.labels,
        None => return BTreeMap::new(),
    };
    labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// One collection of the agent's default meters (no meter is registered in this test
/// binary), as a custom reporter receives it: the agent started inside a tokio runtime,
/// as an application would.
fn default_collection() -> Vec<MeterDataCollection> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let (tx, rx) = mpsc::channel();
    let agent = {
        let _entered = runtime.enter();
        Agent::builder()
            .config(Config::default())
            .service("rules-svc")
            .instance("rules-1")
            .reporter(Capture(tx))
            .meter_collect_interval(Duration::from_millis(100))
            .start()
            .expect("agent starts")
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let collection = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let collection = rx.recv_timeout(left).expect("a meter collection");
        let names: BTreeSet<&str> = collection
            .iter()
            .flat_map(|c| &c.meter_data)
            .map(name_of)
            .collect();
        // The CPU utilization needs two readings: wait for a collection with it.
        if !cfg!(target_os = "linux") || names.contains("instance_rust_process_cpu_utilization") {
            break collection;
        }
    };
    agent.shutdown(Duration::from_secs(2));
    drop(runtime);
    collection
}

#[test]
fn every_default_meter_has_a_rule_and_every_rule_a_meter() {
    let rules = read_rules();
    let collection = default_collection();

    // One `collectBatch` message: OAP runs its rules on each message alone.
    assert_eq!(collection.len(), 1, "{collection:#?}");
    let data = &collection[0].meter_data;
    let sent: BTreeSet<&str> = data.iter().map(name_of).collect();
    assert!(!sent.is_empty());

    let named: BTreeSet<&str> = rules.rules.values().flatten().map(String::as_str).collect();
    for name in &sent {
        assert!(
            named.contains(name) || *name == THREAD_POOL,
            "the agent sends `{name}`, which no rule in rust-runtime.yaml (nor OAP's \
             threadpool.yaml) names: OAP would drop it"
        );
    }
    // Every rule reads meters the agent sends (on Linux with tokio, all of them are).
    for (rule, samples) in &rules.rules {
        for sample in samples {
            let platform_dependent = sample.starts_with("instance_rust_process_")
                || sample.starts_with("instance_rust_os_")
                || sample.starts_with("instance_rust_open_fds");
            if cfg!(target_os = "linux") || !platform_dependent {
                assert!(
                    sent.contains(sample.as_str()),
                    "rule {rule} reads `{sample}`, which the agent does not send: {sent:?}"
                );
            }
        }
    }

    // The runtime as OAP's thread pool meter: its labels, Java's metric types.
    let pool: Vec<&MeterData> = data.iter().filter(|d| name_of(d) == THREAD_POOL).collect();
    assert!(!pool.is_empty(), "no thread_pool meter in {sent:?}");
    let mut types = BTreeSet::new();
    for d in pool {
        let labels = labels_of(d);
        assert_eq!(
            labels.keys().map(String::as_str).collect::<Vec<_>>(),
            ["metric_type", "pool_name"]
        );
        assert_eq!(labels["pool_name"], "tokio");
        let metric_type = labels["metric_type"].clone();
        assert!(
            JAVA_METRIC_TYPES.contains(&metric_type.as_str()),
            "{metric_type}"
        );
        assert!(types.insert(metric_type), "a metric_type twice");
    }
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    assert_eq!(
        types,
        [
            "active_size",
            "core_pool_size",
            "max_pool_size",
            "pool_size",
            "queue_size"
        ]
    );
}

#[test]
fn the_meter_rule_file_is_shaped_as_oap_reads_it() {
    let rules = read_rules();
    // Per service instance, on the General layer, as OAP's python-runtime.yaml.
    let suffix: String = rules
        .exp_suffix
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert_eq!(
        suffix, "instance(['service'],['instance'],Layer.GENERAL)",
        "expSuffix"
    );
    assert_eq!(rules.metric_prefix, "meter");
    for (rule, samples) in &rules.rules {
        assert!(
            rule.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "rule name {rule}"
        );
        // OAP's threadpool.yaml defines meter_thread_pool already.
        assert_ne!(
            rule, THREAD_POOL,
            "meter_thread_pool would be defined twice"
        );
        assert!(
            samples.iter().all(|s| s.starts_with("instance_rust_")),
            "rule {rule} reads {samples:?}: this file is for the built-in meters"
        );
    }
    assert_eq!(
        sample_names("a_b.sum(['le', 'service']).increase(\"PT1M\") / other * 100"),
        ["a_b", "other"].into_iter().map(String::from).collect()
    );
    assert_eq!(
        sample_names("m.tag({tags -> tags.x = 'y'}).avg(['service'])"),
        ["m"].into_iter().map(String::from).collect()
    );
}

/// Every `meter_*` metric named in a dashboard expression.
fn dashboard_metrics(node: &serde_json::Value, out: &mut BTreeSet<String>) {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Array(expressions)) = map.get("expressions") {
                for expression in expressions {
                    let expression = expression.as_str().expect("an expression is a string");
                    out.extend(
                        sample_names(expression)
                            .into_iter()
                            .filter(|name| name.starts_with("meter_")),
                    );
                }
            }
            for value in map.values() {
                dashboard_metrics(value, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                dashboard_metrics(item, out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_dashboard_charts_what_the_meter_rules_define() {
    let rules = read_rules();
    let text = std::fs::read_to_string(DASHBOARD).expect("the dashboard template");
    let template: serde_json::Value = serde_json::from_str(&text).expect("strict JSON");
    let dashboards = template.as_array().expect("an array");
    assert_eq!(dashboards.len(), 1, "OAP takes one dashboard per file");
    let dashboard = &dashboards[0];
    let configuration = &dashboard["configuration"];
    assert_eq!(configuration["layer"], "GENERAL");
    assert_eq!(configuration["entity"], "ServiceInstance");
    assert_eq!(configuration["isRoot"], false);
    assert_eq!(configuration["id"], dashboard["id"]);
    assert!(
        configuration["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );

    let defined: BTreeSet<String> = rules
        .rules
        .keys()
        .map(|rule| format!("{}_{rule}", rules.metric_prefix))
        .chain([format!("meter_{THREAD_POOL}")])
        .collect();
    let mut charted = BTreeSet::new();
    dashboard_metrics(dashboard, &mut charted);
    assert_eq!(
        charted, defined,
        "the dashboard should chart exactly the metrics of rust-runtime.yaml and meter_thread_pool"
    );
}

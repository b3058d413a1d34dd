//! `examples/kubernetes`: the Deployment's environment is the agent's. Every `SW_*`
//! variable it sets exists in the configuration table (`Config::VARIABLES`), every
//! `$(NAME)` it uses is defined above it (Kubernetes expands only those), and the
//! configuration it makes, with the downward API's values filled in, is valid. The
//! Dockerfile builds the demo crate and runs it as PID 1 (exec form), so SIGTERM reaches
//! `shutdown_signal()`.

use std::collections::HashMap;
use std::path::PathBuf;

use skywalking_runtime::Config;
use yaml_rust2::{Yaml, YamlLoader};

fn example_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/kubernetes")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(name, literal value or None for valueFrom)` of the Deployment's container.
fn deployment_env() -> Vec<(String, Option<String>)> {
    let docs = YamlLoader::load_from_str(&example_file("deployment.yaml")).expect("valid YAML");
    let deployment = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("Deployment"))
        .expect("a Deployment");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_vec()
        .expect("containers");
    assert_eq!(containers.len(), 1);
    containers[0]["env"]
        .as_vec()
        .expect("an env list")
        .iter()
        .map(|entry| {
            let name = entry["name"].as_str().expect("a name").to_owned();
            let value = match &entry["value"] {
                Yaml::String(s) => Some(s.clone()),
                Yaml::Integer(i) => Some(i.to_string()),
                Yaml::BadValue => {
                    assert!(
                        !entry["valueFrom"].is_badvalue(),
                        "{name}: neither value nor valueFrom"
                    );
                    None
                }
                other => panic!("{name}: unexpected value {other:?}"),
            };
            (name, value)
        })
        .collect()
}

/// The `$(NAME)` references in `value`.
fn references(value: &str) -> Vec<&str> {
    value
        .split("$(")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(name, _)| name))
        .collect()
}

#[test]
fn every_sw_variable_of_the_manifest_is_one_the_agent_reads() {
    let env = deployment_env();
    let sw: Vec<&str> = env
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| name.starts_with("SW_"))
        .collect();
    assert!(sw.len() >= 5, "{sw:?}");
    for name in &sw {
        assert!(
            Config::VARIABLES.contains(name),
            "{name} is not a variable of the agent (Config::VARIABLES)"
        );
    }
    for required in [
        "SW_AGENT_NAME",
        "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
        "SW_AGENT_INSTANCE_PROPERTIES",
    ] {
        assert!(sw.contains(&required), "the manifest sets {required}");
    }
}

#[test]
fn references_are_defined_above_and_the_configuration_is_valid() {
    let env = deployment_env();
    // What the downward API would give a pod of this Deployment.
    let downward: HashMap<&str, &str> = [
        ("POD_NAME", "checkout-7d9f8c6b5-x2x4q"),
        ("POD_NAMESPACE", "shop"),
        ("NODE_NAME", "node-a"),
        ("POD_IP", "10.1.2.3"),
    ]
    .into();
    let mut resolved: HashMap<String, String> = HashMap::new();
    for (name, value) in &env {
        let value = match value {
            Some(value) => {
                let mut expanded = value.clone();
                for reference in references(value) {
                    let known = resolved.get(reference).unwrap_or_else(|| {
                        panic!("{name} uses $({reference}) before it is defined")
                    });
                    expanded = expanded.replace(&format!("$({reference})"), known);
                }
                expanded
            }
            None => match downward.get(name.as_str()) {
                Some(value) => (*value).to_owned(),
                // A secret: any token.
                None => "token".to_owned(),
            },
        };
        resolved.insert(name.clone(), value);
    }
    let config = Config::from_lookup(|name| resolved.get(name).cloned())
        .unwrap_or_else(|e| panic!("the manifest's configuration: {e}"));
    assert_eq!(config.service(), "checkout");
    assert_eq!(config.instance(), Some("checkout-7d9f8c6b5-x2x4q"));
    assert!(config.instance().is_some_and(|i| i.len() <= 70));
    let properties: HashMap<&str, &str> = config
        .instance_properties()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(properties.get("namespace"), Some(&"shop"));
    assert_eq!(properties.get("pod"), Some(&"checkout-7d9f8c6b5-x2x4q"));
    assert_eq!(properties.get("node"), Some(&"node-a"));
    assert_eq!(config.trace_ignore_paths(), ["/health"]);
}

#[test]
fn the_dockerfile_builds_the_demo_and_runs_it_as_pid_1() {
    let dockerfile = example_file("Dockerfile");
    let manifest = example_file("Cargo.toml");
    assert!(manifest.contains("name = \"skywalking-kubernetes-demo\""));
    assert!(manifest.contains("name = \"k8s-demo\""));
    assert!(dockerfile.contains("-p skywalking-kubernetes-demo"));
    assert!(dockerfile.contains("target/release/k8s-demo"));
    assert!(
        dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")) >= 2,
        "multi-stage"
    );
    let entrypoint = dockerfile
        .lines()
        .find(|l| l.starts_with("ENTRYPOINT"))
        .expect("an entrypoint");
    assert!(
        entrypoint.contains("[\"/usr/local/bin/k8s-demo\"]"),
        "the exec form, so SIGTERM reaches the service: {entrypoint}"
    );
    let image = YamlLoader::load_from_str(&example_file("deployment.yaml")).expect("YAML")[0]
        ["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .map(str::to_owned)
        .expect("an image");
    assert!(
        dockerfile.contains(&format!("-t {image}")),
        "the Dockerfile's build command tags the manifest's image {image}"
    );
}

//! What the agent tells OAP about its instance (`ManagementService`): the instance
//! properties, sent when a connection is made and every
//! [`PROPERTIES_EVERY`] heartbeats, and the `keepAlive` ping.

use skywalking_proto::v3::{InstancePingPkg, InstanceProperties, KeyStringValuePair};

use crate::settings::Identity;

/// Heartbeats between two instance-properties reports (the Java agent's
/// `collector.properties_report_period_factor`).
pub(crate) const PROPERTIES_EVERY: u32 = 10;

/// The properties of this process: `language`, `hostname`, one `ipv4` per non-loopback
/// address (OAP joins repeated keys), `OS Name`, `Process No.` and `Agent Version`, then
/// the extra ones of `SW_AGENT_INSTANCE_PROPERTIES`.
pub(crate) fn instance_properties(identity: &Identity) -> InstanceProperties {
    let pair = |key: &str, value: String| KeyStringValuePair {
        key: key.to_owned(),
        value,
    };
    let mut properties = vec![
        pair("language", "rust".to_owned()),
        pair("hostname", hostname()),
    ];
    properties.extend(ipv4_addresses().into_iter().map(|ip| pair("ipv4", ip)));
    properties.push(pair("OS Name", std::env::consts::OS.to_owned()));
    properties.push(pair("Process No.", std::process::id().to_string()));
    properties.push(pair("Agent Version", env!("CARGO_PKG_VERSION").to_owned()));
    // `SW_AGENT_INSTANCE_PROPERTIES` (namespace, pod, node, ...), after the agent's own.
    properties.extend(
        crate::settings::instance_properties()
            .into_iter()
            .map(|(key, value)| KeyStringValuePair { key, value }),
    );
    InstanceProperties {
        service: identity.service.clone(),
        service_instance: identity.instance.clone(),
        properties,
        layer: String::new(),
    }
}

/// The `keepAlive` message.
pub(crate) fn ping(identity: &Identity) -> InstancePingPkg {
    InstancePingPkg {
        service: identity.service.clone(),
        service_instance: identity.instance.clone(),
        layer: String::new(),
    }
}

/// The host's IPv4 addresses except loopback ones, read from `/proc/net/fib_trie` (no
/// syscall into the network, no extra dependency); empty where that file does not exist.
pub(crate) fn ipv4_addresses() -> Vec<String> {
    std::fs::read_to_string("/proc/net/fib_trie")
        .map(|text| local_addresses_in_fib_trie(&text))
        .unwrap_or_default()
}

/// The addresses of `/32 host LOCAL` entries: an address line (`|-- a.b.c.d`) directly
/// followed by that line.
fn local_addresses_in_fib_trie(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut last_address: Option<&str> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ") {
            last_address = Some(address.trim());
            continue;
        }
        if line.starts_with("/32 host LOCAL") {
            if let Some(address) = last_address.take() {
                let loopback = address
                    .parse::<std::net::Ipv4Addr>()
                    .map_or(true, |ip| ip.is_loopback());
                if !loopback && !found.iter().any(|a| a == address) {
                    found.push(address.to_owned());
                }
            }
        } else {
            last_address = None;
        }
    }
    found
}

/// OAP's limit on instance names: longer ones are cut, silently.
pub(crate) const MAX_INSTANCE_NAME: usize = 70;

/// `<32 hex>@<ipv4>`, as the Java and Go agents name instances (at most 48 bytes), or
/// `<32 hex>@<hostname>` cut to OAP's 70-byte limit on a host with no IPv4 address.
pub(crate) fn default_instance_name() -> String {
    let host = ipv4_addresses().into_iter().next().unwrap_or_else(hostname);
    instance_name(crate::id::Id::generate(), &host)
}

fn instance_name(id: crate::id::Id, host: &str) -> String {
    let mut name = format!("{id}@{host}");
    let kept = crate::record::cut_bytes(&name, MAX_INSTANCE_NAME).len();
    name.truncate(kept);
    name
}

/// The host's name, or `localhost` when it cannot be read.
pub(crate) fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .ok()
        })
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod instance_name_tests {
    use super::*;

    #[test]
    fn default_instance_names_fit_oaps_limit() {
        let name = default_instance_name();
        assert!(name.len() <= MAX_INSTANCE_NAME, "{name}");
        let (id, host) = name.split_once('@').expect("<id>@<host>");
        assert_eq!(id.len(), 32);
        assert!(!host.is_empty());
        // A Kubernetes pod name as long as a DNS label, with no IPv4 to use instead.
        let long = format!("checkout-service-{}-7d9f8c6b5-x2x4q", "a".repeat(40));
        let name = instance_name(crate::id::Id::generate(), &long);
        assert_eq!(name.len(), MAX_INSTANCE_NAME);
        assert_eq!(
            instance_name(crate::id::Id::from_u128(1), "10.0.0.7"),
            "00000000000000000000000000000001@10.0.0.7"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_local_addresses_from_fib_trie() {
        let text = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
                    \x20    +-- 127.0.0.0/8 2 0 2\n           |-- 127.0.0.1\n              /32 host LOCAL\n\
                    \x20          |-- 10.1.2.3\n              /32 host LOCAL\n\
                    \x20       |-- 10.1.2.255\n           /32 link BROADCAST\n\
                    Local:\n           |-- 10.1.2.3\n              /32 host LOCAL\n\
                    \x20          |-- 172.17.0.1\n              /32 host LOCAL\n";
        assert_eq!(
            local_addresses_in_fib_trie(text),
            ["10.1.2.3", "172.17.0.1"]
        );
    }

    #[test]
    fn properties_name_the_language_and_the_process() {
        let identity = Identity {
            service: "svc".into(),
            instance: "inst".into(),
        };
        let properties = instance_properties(&identity);
        assert_eq!(properties.service, "svc");
        assert_eq!(properties.service_instance, "inst");
        let get = |key: &str| {
            properties
                .properties
                .iter()
                .find(|p| p.key == key)
                .map(|p| p.value.clone())
        };
        assert_eq!(get("language").as_deref(), Some("rust"));
        assert_eq!(get("Process No."), Some(std::process::id().to_string()));
        assert!(get("hostname").is_some_and(|h| !h.is_empty()));
        assert!(get("OS Name").is_some());
        assert!(get("Agent Version").is_some());
    }
}

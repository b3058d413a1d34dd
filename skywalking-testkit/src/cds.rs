//! The agent configurations the collector serves through
//! `ConfigurationDiscoveryService/fetchConfigurations`, as OAP's `configuration-discovery`
//! module does (`ConfigurationDiscoveryServiceHandler`):
//!
//! - each service has a configuration (key/value pairs) and its UUID, a digest of the
//!   pairs, so setting the same pairs again keeps the UUID;
//! - a request carrying the UUID of the service's current configuration gets an empty
//!   `Commands` ("nothing changed");
//! - otherwise the answer is one `ConfigurationDiscoveryCommand` with the arguments
//!   `SerialNumber`, `UUID`, then the pairs in key order;
//! - a service with no configuration gets the empty configuration (no pairs, a fixed
//!   UUID), so an agent whose configuration was removed goes back to its local values.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use skywalking_proto::v3::{Command, Commands, ConfigurationSyncRequest, KeyStringValuePair};

/// The command name OAP answers with.
pub(crate) const COMMAND: &str = "ConfigurationDiscoveryCommand";

/// The configurations by service.
#[derive(Debug, Default)]
pub(crate) struct AgentConfigurations {
    by_service: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    serial: AtomicU64,
}

/// A digest of the pairs (stable for equal pairs), as the configuration's UUID.
fn uuid_of(pairs: &BTreeMap<String, String>) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    "skywalking-testkit-cds".hash(&mut hasher);
    pairs.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

impl AgentConfigurations {
    /// Replaces the configuration of `service`.
    pub(crate) fn set(&self, service: String, pairs: BTreeMap<String, String>) {
        self.by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(service, pairs);
    }

    /// Removes the configuration of `service` (it gets the empty one).
    pub(crate) fn remove(&self, service: &str) {
        self.by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(service);
    }

    /// What OAP answers to `request`.
    pub(crate) fn answer(&self, request: &ConfigurationSyncRequest) -> Commands {
        let pairs = self
            .by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&request.service)
            .cloned()
            .unwrap_or_default();
        let uuid = uuid_of(&pairs);
        if request.uuid == uuid {
            return Commands::default();
        }
        let pair = |key: &str, value: String| KeyStringValuePair {
            key: key.to_owned(),
            value,
        };
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        let mut args = vec![pair("SerialNumber", serial.to_string()), pair("UUID", uuid)];
        args.extend(
            pairs
                .into_iter()
                .map(|(key, value)| KeyStringValuePair { key, value }),
        );
        Commands {
            commands: vec![Command {
                command: COMMAND.to_owned(),
                args,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(service: &str, uuid: &str) -> ConfigurationSyncRequest {
        ConfigurationSyncRequest {
            service: service.to_owned(),
            uuid: uuid.to_owned(),
        }
    }

    fn uuid_in(commands: &Commands) -> String {
        commands.commands[0]
            .args
            .iter()
            .find(|p| p.key == "UUID")
            .map(|p| p.value.clone())
            .expect("a UUID")
    }

    #[test]
    fn answers_like_oap() {
        let cds = AgentConfigurations::default();
        // No configuration: the empty one, then nothing once its UUID comes back.
        let empty = cds.answer(&request("svc", ""));
        assert_eq!(empty.commands.len(), 1);
        assert_eq!(empty.commands[0].command, COMMAND);
        assert_eq!(empty.commands[0].args.len(), 2);
        let empty_uuid = uuid_in(&empty);
        assert!(cds.answer(&request("svc", &empty_uuid)).commands.is_empty());

        let pairs: BTreeMap<String, String> =
            [("agent.sample_rate".to_owned(), "0.5".to_owned())].into();
        cds.set("svc".to_owned(), pairs.clone());
        let answer = cds.answer(&request("svc", &empty_uuid));
        let uuid = uuid_in(&answer);
        assert_ne!(uuid, empty_uuid);
        let args = &answer.commands[0].args;
        assert_eq!(args[0].key, "SerialNumber");
        assert_eq!(args[2].key, "agent.sample_rate");
        assert_eq!(args[2].value, "0.5");
        assert!(cds.answer(&request("svc", &uuid)).commands.is_empty());
        // The same pairs again: the same UUID.
        cds.set("svc".to_owned(), pairs);
        assert!(cds.answer(&request("svc", &uuid)).commands.is_empty());
        // Other services are not concerned.
        assert_eq!(uuid_in(&cds.answer(&request("other", ""))), empty_uuid);
        cds.remove("svc");
        assert_eq!(uuid_in(&cds.answer(&request("svc", &uuid))), empty_uuid);
    }
}

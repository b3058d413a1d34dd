//! `sw-check`: checks SkyWalking collector addresses the way the agent connects to them,
//! and says for each whether it answers as an OAP, or why not (see
//! `skywalking_runtime::check_backend`).
//!
//! ```text
//! $ sw-check oap.skywalking:11800
//! ok    SkyWalking collector at oap.skywalking:11800: answers as OAP (round trip 1.9ms)
//! $ sw-check 127.0.0.1:12800
//! FAIL  SkyWalking collector at 127.0.0.1:12800: answers, but not as an OAP (...)
//! ```
//!
//! Installed with `cargo install skywalking-runtime`. It exits 0 when at least one
//! address is usable, 1 when none is, 2 for a usage or configuration error.

use std::process::ExitCode;
use std::time::Duration;

use skywalking_runtime::Config;

const USAGE: &str = "\
usage: sw-check [OPTIONS] [ADDRESS...]

Checks SkyWalking collector addresses (OAP's gRPC port, host:port) as the agent
connects to them: DNS, TCP, TLS, the token, and whether OAP answers. With no
address, checks SW_AGENT_COLLECTOR_BACKEND_SERVICES. Every SW_AGENT_* variable
the agent reads applies; the options below win over them.

options:
  --timeout SECS   how long to wait for each address (default 5)
  --token TOKEN    the authentication token (SW_AGENT_AUTHENTICATION)
  --tls            use TLS (SW_AGENT_REPORTER_GRPC_TLS_ENABLE); without --ca,
                   the system's trust store is used
  --ca PATH        the PEM CA of OAP's certificate (SW_AGENT_REPORTER_GRPC_TLS_CA_PATH)
  --service NAME   the service name the check asks for (SW_AGENT_NAME)
  -h, --help       this text

exit status: 0 when at least one address answers as OAP, 1 when none does,
2 for a usage or configuration error.";

/// The command line, as the variables it stands for.
struct Args {
    timeout: Duration,
    overrides: Vec<(&'static str, String)>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut timeout = Duration::from_secs(5);
    let mut overrides = Vec::new();
    let mut addresses = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--timeout" => {
                let text = value("--timeout")?;
                timeout = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e6)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        format!("--timeout {text:?}: expected a positive number of seconds")
                    })?;
            }
            "--token" => overrides.push(("SW_AGENT_AUTHENTICATION", value("--token")?)),
            "--tls" => overrides.push(("SW_AGENT_REPORTER_GRPC_TLS_ENABLE", "true".to_owned())),
            "--ca" => overrides.push(("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH", value("--ca")?)),
            "--service" => overrides.push(("SW_AGENT_NAME", value("--service")?)),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            address => addresses.push(address.to_owned()),
        }
    }
    if !addresses.is_empty() {
        overrides.push(("SW_AGENT_COLLECTOR_BACKEND_SERVICES", addresses.join(",")));
    }
    Ok(Some(Args { timeout, overrides }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sw-check: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = Config::from_lookup(|name| {
        args.overrides
            .iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok())
    });
    let report = match config.and_then(|config| config.check_backends(args.timeout)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("sw-check: {e}");
            return ExitCode::from(2);
        }
    };
    for status in &report {
        let mark = if status.is_usable() { "ok  " } else { "FAIL" };
        println!("{mark}  {status}");
    }
    let usable = report.iter().filter(|s| s.is_usable()).count();
    if usable == 0 {
        eprintln!(
            "sw-check: no usable SkyWalking collector among {} address(es)",
            report.len()
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

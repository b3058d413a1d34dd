//! The built-in process meters, read from `/proc/self` on Linux (nothing elsewhere).

use std::time::Instant;

/// Reads the process meters; keeps the previous CPU reading to turn CPU time into a
/// utilization. Lives on the reporter thread.
#[derive(Debug)]
pub(crate) struct ProcessSampler {
    /// When CPU time was last read, and how much (seconds).
    last_cpu: Option<(Instant, f64)>,
}

/// `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat`. The kernel fixes it at 100
/// for user space on every architecture Linux supports.
#[cfg(target_os = "linux")]
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcessSampler {
    /// Takes a first CPU reading, so the first collection reports the utilization since
    /// now.
    pub(crate) fn new() -> Self {
        ProcessSampler {
            last_cpu: cpu_seconds().map(|s| (Instant::now(), s)),
        }
    }

    /// The process meters that could be read, by name.
    pub(crate) fn sample(&mut self) -> Vec<(&'static str, f64)> {
        let mut out = Vec::with_capacity(4);
        if let Some(seconds) = cpu_seconds() {
            let now = Instant::now();
            if let Some((then, before)) = self.last_cpu {
                let wall = now.duration_since(then).as_secs_f64();
                if wall > 0.0 {
                    let percent = ((seconds - before) / wall * 100.0).max(0.0);
                    out.push(("instance_rust_process_cpu_utilization", percent));
                }
            }
            self.last_cpu = Some((now, seconds));
        }
        if let Some(status) = read("/proc/self/status") {
            if let Some(kb) = status_value(&status, "VmRSS:") {
                out.push(("instance_rust_process_resident_memory_bytes", kb * 1024.0));
            }
            if let Some(threads) = status_value(&status, "Threads:") {
                out.push(("instance_rust_os_threads_num", threads));
            }
        }
        if let Some(fds) = open_fds() {
            out.push(("instance_rust_open_fds_num", fds));
        }
        out
    }
}

#[cfg(target_os = "linux")]
fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[cfg(not(target_os = "linux"))]
fn read(_path: &str) -> Option<String> {
    None
}

/// User plus system CPU time of the process, in seconds.
#[cfg(target_os = "linux")]
fn cpu_seconds() -> Option<f64> {
    read("/proc/self/stat").and_then(|stat| cpu_ticks_in_stat(&stat).map(|t| t / TICKS_PER_SECOND))
}

#[cfg(not(target_os = "linux"))]
fn cpu_seconds() -> Option<f64> {
    None
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name
/// (field 2) is in parentheses and may hold spaces, so fields are counted after the last
/// `)`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn cpu_ticks_in_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let utime: f64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: f64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// The number after `key` in `/proc/<pid>/status` (`VmRSS:   1234 kB` gives 1234).
fn status_value(status: &str, key: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Open file descriptors, not counting the one used to list them.
#[cfg(target_os = "linux")]
fn open_fds() -> Option<f64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(entries.count().saturating_sub(1) as f64)
}

#[cfg(not(target_os = "linux"))]
fn open_fds() -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_status() {
        let stat = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 \
                    20 0 7 0 12345 100000000 2000 18446744073709551615";
        assert_eq!(cpu_ticks_in_stat(stat), Some(300.0));
        let status = "Name:\tprog\nVmRSS:\t   2048 kB\nThreads:\t7\n";
        assert_eq!(status_value(status, "VmRSS:"), Some(2048.0));
        assert_eq!(status_value(status, "Threads:"), Some(7.0));
        assert_eq!(status_value(status, "VmSwap:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let mut sampler = ProcessSampler::new();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let sample = sampler.sample();
        let names: Vec<&str> = sample.iter().map(|(n, _)| *n).collect();
        assert!(
            names.contains(&"instance_rust_process_cpu_utilization"),
            "{names:?}"
        );
        let get = |name: &str| sample.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert!(get("instance_rust_process_resident_memory_bytes").unwrap() > 0.0);
        assert!(get("instance_rust_os_threads_num").unwrap() >= 1.0);
        assert!(get("instance_rust_open_fds_num").unwrap() >= 3.0);
    }
}

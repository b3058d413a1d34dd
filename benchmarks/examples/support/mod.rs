//! What the examples share: reading this process's CPU time from `/proc`.

#![allow(dead_code)] // Each example uses part of it.

/// The fields of a `/proc/.../stat` file after the command name (field 3 onwards), or
/// none if it cannot be read.
pub fn stat_fields(path: &str) -> Vec<String> {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    stat.rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// User + system CPU time of this process so far, in ms (from `/proc/self/stat`).
pub fn process_cpu_ms() -> f64 {
    let fields = stat_fields("/proc/self/stat");
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks * 10.0 // USER_HZ = 100
}

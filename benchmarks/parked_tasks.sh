#!/usr/bin/env bash
# Memory per open trace: N tokio tasks each parked inside a traced `async fn`, one process
# per tracer (examples/parked_tasks.rs), and what each process still holds after the
# burst, once its reporter (or collector) has flushed. Prints a Markdown table, then each
# run's details (allocations per task by size).
#
#   benchmarks/parked_tasks.sh [tasks, default 100000] [rounds, default 1] [tracers, default "ours ours-root fastrace none"]
#
# Each round runs every tracer once, one after another (a row per run).
#
# Columns: live bytes per parked task (counting global allocator) and resident bytes per
# parked task (VmRSS delta); the same over the untraced run; allocations per task; what the
# process holds after the burst and the flush (allocator live bytes, RSS, and RSS after
# glibc's malloc_trim(0): the rest of the RSS is memory glibc keeps in its arenas).
set -euo pipefail
cd "$(dirname "$0")"
tasks="${1:-100000}"
rounds="${2:-1}"
tracers="${3:-ours ours-root fastrace none}"
cargo build -q --release --example parked_tasks

details=$(mktemp)
trap 'rm -f "$details"' EXIT
results=()
for _ in $(seq "$rounds"); do
    for tracer in $tracers; do
        line=$(target/release/examples/parked_tasks "$tracer" "$tasks" 2>>"$details" | grep '^RESULT')
        results+=("$line")
    done
done

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $tasks tasks, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%s\n' "${results[@]}" | awk '
    { name[NR] = $2; alloc[NR] = $4; rss[NR] = $5; held[NR] = $6; held_rss[NR] = $7; trim[NR] = $8; allocs[NR] = $9
      if ($2 == "none") { base_alloc = $4; base_rss = $5 } }
    END {
        mib = 1024 * 1024
        print "| tracer | B/task (allocator) | B/task (RSS) | over untraced (allocator / RSS) | allocations/task | held after: live MiB | RSS MiB | RSS MiB after malloc_trim |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= NR; i++) {
            over = (base_alloc == "") ? "" : sprintf("%d / %d", alloc[i] - base_alloc, rss[i] - base_rss)
            printf "| %s | %d | %d | %s | %.2f | %.2f | %.1f | %.1f |\n", \
                name[i], alloc[i], rss[i], over, allocs[i], held[i] / mib, held_rss[i] / mib, trim[i] / mib
        }
    }'
echo
cat "$details"

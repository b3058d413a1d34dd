#!/usr/bin/env bash
# Whole-process CPU per sent span, this agent (gRPC reporter: wire encoder + one
# `collect` stream per batch, to the `sink` example in another process) against
# fastrace 0.7 (a counting reporter, a reporter that encodes SkyWalking segments with
# prost, and one that also streams them to the same sink), in one run, alternating, each
# peer in its best regime (every span delivered, nothing dropped, the last delivery
# counted). See examples/process_cpu.rs for what is measured and how.
#
# The collector is another process, so its CPU is not counted: `raw_sink` (reads every
# message, decodes none, answers like OAP), or with SINK=sink the `sink` example, which
# decodes every segment with prost (on a 2-core machine it then competes with the
# measured process for the cores, which inflates the peers that send).
#
#   benchmarks/process_cpu.sh [rounds, default 7] [traces of 101 spans, default 20000]
#                             [traces of 3 spans and of 1 span, default 200000] [peers...]
#
# Prints every run, then per shape and peer the min and median of process CPU per span
# (and the medians of the main thread's and the rest's shares), and ours against each
# fastrace variant (min/min and median/median), with the load average before and after.
set -euo pipefail
cd "$(dirname "$0")"
rounds="${1:-7}"
big="${2:-20000}"
small="${3:-200000}"
shift $(( $# < 3 ? $# : 3 ))
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(ours fastrace-count fastrace-proto fastrace-grpc)
sink_example="${SINK:-raw_sink}"
cargo build -q --release --example process_cpu --example "$sink_example"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
target/release/examples/"$sink_example" "127.0.0.1:$port" >/dev/null 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5

out=$(mktemp)
echo "sink: $sink_example; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
    for shape in "100 $big" "2 $small" "0 $small"; do
        set -- $shape
        for peer in "${peers[@]}"; do
            line=$(target/release/examples/process_cpu "$peer" "$1" "$2" 512 "127.0.0.1:$port")
            echo "round=$round $line" | tee -a "$out"
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" <<'EOF'
import sys, statistics
runs = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split())
    key = (int(kv["children"]) + 1, kv["peer"])
    runs.setdefault(key, []).append(kv)
def col(key, name):
    return [float(r[name]) for r in runs[key]]
print()
print("spans/trace  peer             process ns/span min  median   main median  rest median  runs")
for key in sorted(runs):
    p = col(key, "process_ns_per_span")
    print(f"{key[0]:>11}  {key[1]:<15}  {min(p):>19.1f}  {statistics.median(p):>6.1f}"
          f"  {statistics.median(col(key, 'main_ns_per_span')):>11.1f}"
          f"  {statistics.median(col(key, 'rest_ns_per_span')):>11.1f}  {len(p):>4}")
print()
for spans in sorted({k[0] for k in runs}):
    if (spans, "ours") not in runs:
        continue
    ours = col((spans, "ours"), "process_ns_per_span")
    for peer in sorted(p for s, p in runs if s == spans and p != "ours"):
        other = col((spans, peer), "process_ns_per_span")
        print(f"{spans} spans/trace: ours / {peer}: {min(ours) / min(other):.2f} (min), "
              f"{statistics.median(ours) / statistics.median(other):.2f} (median)")
EOF
rm -f "$out"

#!/usr/bin/env bash
# End-to-end load benchmark: wrk against an axum service answering GET /hello, with and
# without the agent's axum layer, reporting the server's CPU per request (user + sys of
# the server process, its reporter thread included) and its throughput.
#
#   benchmarks/e2e.sh [seconds per case, default 10] [rounds, default 2]
#
# Needs wrk (apt-get install wrk). The server is pinned to core 0 and runs a
# current-thread runtime; wrk (1 thread, 16 connections) and the sink collector share
# core 1. Cases:
#   none            the router alone
#   layer           the layer, no incoming header (a new sampled trace per request)
#   layer+sw8       the layer, every request carrying an sw8 header (continued trace)
#   unsampled       the layer with SW_AGENT_SAMPLE=0
#   disabled        the layer with SW_AGENT_DISABLE=true
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-10}"
rounds="${2:-2}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build -q --release --example axum_hello --example sink

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
ticks_per_sec=$(getconf CLK_TCK)

sink_port=$(free_port)
taskset -c 1 target/release/examples/sink "127.0.0.1:$sink_port" >/dev/null 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5

SW8='1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3-b3JkZXItc2VydmljZQ==-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy-e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw'

run_case() {
    local name=$1 mode=$2 header=$3; shift 3
    local port; port=$(free_port)
    env SW_AGENT_NAME=e2e SW_AGENT_COLLECTOR_BACKEND_SERVICES="127.0.0.1:$sink_port" "$@" \
        taskset -c 0 target/release/examples/axum_hello "$port" "$mode" > /tmp/e2e-pid.$$ &
    local server=$!
    for _ in $(seq 50); do [[ -s /tmp/e2e-pid.$$ ]] && break; sleep 0.1; done
    local args=(-t1 -c16 "http://127.0.0.1:$port/hello")
    [[ -n "$header" ]] && args=(-H "sw8: $SW8" "${args[@]}")
    taskset -c 1 wrk -d2s "${args[@]}" >/dev/null          # warm-up
    local before; before=$(cpu_ticks "$server")
    local out; out=$(taskset -c 1 wrk -d"${secs}s" "${args[@]}")
    sleep 0.3                                               # let the reporter finish its batch
    local after; after=$(cpu_ticks "$server")
    kill "$server"; wait "$server" 2>/dev/null || true
    local requests; requests=$(awk '/requests in/ {print $1}' <<<"$out")
    local rps; rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    awk -v n="$name" -v r="$requests" -v c="$((after - before))" -v hz="$ticks_per_sec" -v rps="$rps" \
        'BEGIN { printf "| %-10s | %9d | %10.0f | %6.2f |\n", n, r, rps, c / hz * 1e6 / r }'
}

echo "| case       |  requests |  req/s     | server CPU us/request |"
echo "|---|---:|---:|---:|"
for _ in $(seq "$rounds"); do
    run_case none none ""
    run_case layer layer ""
    run_case layer+sw8 layer sw8
    run_case unsampled layer "" SW_AGENT_SAMPLE=0
    run_case disabled layer "" SW_AGENT_DISABLE=true
done
rm -f /tmp/e2e-pid.$$

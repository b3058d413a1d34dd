#!/usr/bin/env bash
# Release-build cost of 1,000 annotated functions (500 async): #[sw::trace] vs
# #[fastrace::trace] vs #[tracing::instrument(skip_all)] vs no attribute.
#
#   scripts/macro-compile-bench.sh [runs]        (default 3 runs, the best is reported)
#
# Each variant is its own crate in target/macro-bench (one shared target dir). Its
# dependencies are built first with an empty lib.rs, so the timed build compiles only
# the generated crate: macro expansion plus the code it emits. The expanded size comes
# from `-Zunpretty=expanded` (RUSTC_BOOTSTRAP=1 lets a stable rustc print it; used for
# this measurement only). Needs crates.io for tracing and fastrace.
set -euo pipefail

RUNS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${MACRO_BENCH_DIR:-$ROOT/target/macro-bench}
FUNCTIONS=1000
export CARGO_TARGET_DIR=$DIR/target

mkdir -p "$DIR"
cat >"$DIR/Cargo.toml" <<TOML
[workspace]
resolver = "3"
members = ["plain", "sw", "fastrace", "tracing"]

[workspace.package]
edition = "2024"
publish = false
version = "0.0.0"
TOML

# variant -> dependency line and attribute
declare -A DEP=(
    [plain]=""
    [sw]="skywalking-runtime = { path = \"$ROOT/skywalking-runtime\" }"
    [fastrace]='fastrace = { version = "0.7", features = ["enable"] }'
    [tracing]='tracing = "0.1"'
)
declare -A ATTR=(
    [plain]=""
    [sw]="#[skywalking_runtime::trace]"
    [fastrace]="#[fastrace::trace]"
    [tracing]="#[tracing::instrument(skip_all)]"
)
VARIANTS=(plain sw fastrace tracing)

# The generated source: half sync, half async; each takes arguments (none recorded)
# and does a little work, as the DESIGN.md measurement does.
generate() {
    local attr=$1 i
    echo '#![allow(clippy::all, dead_code)]'
    echo 'pub struct Pending(bool);'
    echo 'impl core::future::Future for Pending { type Output = (); fn poll(mut self: core::pin::Pin<&mut Self>, cx: &mut core::task::Context<'"'"'_>) -> core::task::Poll<()> { if self.0 { core::task::Poll::Ready(()) } else { self.0 = true; cx.waker().wake_by_ref(); core::task::Poll::Pending } } }'
    for ((i = 0; i < FUNCTIONS / 2; i++)); do
        printf '%s\npub fn sync_%d(a: u64, b: &str) -> u64 {\n    let n = a.wrapping_mul(%d).wrapping_add(b.len() as u64);\n    if n %% 7 == 0 { return n / 7; }\n    n ^ 0x%x\n}\n' "$attr" "$i" "$((i + 3))" "$i"
        printf '%s\npub async fn async_%d(a: u64, b: String) -> Result<u64, String> {\n    Pending(false).await;\n    let n: u64 = b.parse().map_err(|_| b.clone())?;\n    Ok(n.wrapping_add(a).wrapping_mul(%d))\n}\n' "$attr" "$i" "$((i + 5))"
    done
}

for v in "${VARIANTS[@]}"; do
    mkdir -p "$DIR/$v/src"
    printf '[package]\nname = "bench-%s"\nversion.workspace = true\nedition.workspace = true\npublish.workspace = true\n\n[dependencies]\n%s\n' \
        "$v" "${DEP[$v]}" >"$DIR/$v/Cargo.toml"
    generate "${ATTR[$v]}" >"$DIR/$v/gen.rs"
    # A stub that uses the dependency, to build it ahead of the measurement.
    echo '' >"$DIR/$v/src/lib.rs"
done

echo "building dependencies (release)..." >&2
(cd "$DIR" && cargo build --release --quiet --workspace)

now() { date +%s.%N; }
declare -A BEST
for v in "${VARIANTS[@]}"; do
    BEST[$v]=999999
    for ((r = 0; r < RUNS; r++)); do
        cp "$DIR/$v/gen.rs" "$DIR/$v/src/lib.rs"
        touch "$DIR/$v/src/lib.rs"
        start=$(now)
        (cd "$DIR" && cargo build --release --quiet -p "bench-$v")
        end=$(now)
        t=$(awk "BEGIN { print $end - $start }")
        if awk "BEGIN { exit !($t < ${BEST[$v]}) }"; then BEST[$v]=$t; fi
        echo '' >"$DIR/$v/src/lib.rs"
        (cd "$DIR" && cargo build --release --quiet -p "bench-$v")
    done
done

expanded_size() {
    local v=$1 out=$DIR/$v/expanded.rs
    cp "$DIR/$v/gen.rs" "$DIR/$v/src/lib.rs"
    if (cd "$DIR" && RUSTC_BOOTSTRAP=1 cargo rustc --release --quiet -p "bench-$v" --lib -- -Zunpretty=expanded >"$out" 2>/dev/null); then
        wc -c <"$out"
    else
        echo "?"
    fi
}

printf '\n%-10s %10s %12s %14s\n' variant "build (s)" "over plain" "expanded (KB)"
for v in "${VARIANTS[@]}"; do
    size=$(expanded_size "$v")
    [[ $size == "?" ]] || size=$((size / 1024))
    printf '%-10s %10.2f %+12.2f %14s\n' "$v" "${BEST[$v]}" "$(awk "BEGIN { print ${BEST[$v]} - ${BEST[plain]} }")" "$size"
done
echo "($FUNCTIONS functions, $((FUNCTIONS / 2)) async; best of $RUNS release builds; $(nproc) cores; $(rustc --version))"

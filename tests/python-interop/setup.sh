#!/usr/bin/env bash
# Creates the Python venv the interop test (tests/tests/python_interop.rs) runs the
# official SkyWalking Python agent from, and prints its path.
#
#   tests/python-interop/setup.sh [VENV_DIR]     (default: <repo>/target/python-interop-venv)
#
# Only PyPI is needed. apache-skywalking is installed from its source package: its
# wheel lacks the generated protocol stubs (skywalking/protocol/**), the sdist ships
# them (upstream generates them with grpcio-tools from the data-collect-protocol git
# submodule before packaging, so nothing is fetched from GitHub here). The build
# backend (poetry-core) is pinned in build-requirements.txt.
#
# Idempotent: when the venv already holds exactly these requirements (a stamp of the
# two requirement files) and the stubs import, it returns at once.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-$root/target/python-interop-venv}"
python="${PYTHON:-python3}"
stamp="$venv/.sw-interop-stamp"

want="$(cat "$here/requirements.txt" "$here/build-requirements.txt" | sha256sum | cut -d' ' -f1)"

check() {
    "$venv/bin/python" - <<'PY'
import skywalking.protocol.language_agent.Tracing_pb2_grpc  # the stubs the wheel lacks
import skywalking.protocol.management.Management_pb2_grpc
from skywalking.plugins import sw_http_server, sw_urllib_request  # the plugins the test uses
PY
}

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && check 2>/dev/null; then
    echo "$venv"
    exit 0
fi

start=$SECONDS
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input --quiet)
"${pip[@]}" install --only-binary :all: -r "$here/build-requirements.txt" >&2
"${pip[@]}" install --no-build-isolation --no-binary apache-skywalking \
    --only-binary grpcio,grpcio-tools,protobuf,psutil,wrapt \
    -r "$here/requirements.txt" >&2
if ! check >&2; then
    echo "setup.sh: apache-skywalking installed without its protocol stubs" >&2
    exit 1
fi
echo "$want" >"$stamp"
echo "setup.sh: Python agent venv ready in $((SECONDS - start)) s" >&2
echo "$venv"

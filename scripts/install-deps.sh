#!/usr/bin/env bash
# Installs the system packages agentcore builds against (librdkafka, SQLite, LZ4) and the Python
# modules its contract checks use. Idempotent; uses sudo when not root.
set -euo pipefail
need=()
for pkg in librdkafka-dev libsqlite3-dev liblz4-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ! command -v python3 >/dev/null 2>&1; then need+=(python3 python3-pip); fi
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! python3 -c 'import jsonschema, yaml' >/dev/null 2>&1; then
  python3 -m pip install --quiet jsonschema pyyaml 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages jsonschema pyyaml 2>/dev/null \
    || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"; $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema python3-yaml >/dev/null; }
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "error: Swift 6 is not on PATH; install it from swift.org first" >&2
  exit 1
fi

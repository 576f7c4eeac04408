#!/usr/bin/env bash
# Runs README's kcat and Python (confluent-kafka) examples against `agentcore broker` plus one
# `agentcore worker`, and checks that their commands were applied. Needs the debug build
# (`swift build`). Installs kcat (Debian) and confluent-kafka (PyPI) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug/agentcore
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v kcat >/dev/null 2>&1; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null
fi
python3 -c 'import confluent_kafka' 2>/dev/null || python3 -m pip install --quiet confluent-kafka \
  || python3 -m pip install --quiet --break-system-packages confluent-kafka
port=$((30000 + $$ % 1000))
brokers=127.0.0.1:$port
work=$(mktemp -d "${TMPDIR:-/tmp}/agentcore-examples.XXXXXX")
cleanup() { kill "$worker" "$broker" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$bin" broker --port "$port" --partitions 4 > "$work/broker.log" 2>&1 & broker=$!
sleep 1
"$bin" worker --brokers "$brokers" --mock-broker --data-dir "$work/data" --worker-id examples > "$work/worker.log" 2>&1 & worker=$!
for _ in $(seq 1 100); do grep -q assigned "$work/worker.log" && break; sleep 0.2; done
pass=0; fail=0
check() { if "$@"; then pass=$((pass + 1)); else echo "FAIL: $*"; fail=$((fail + 1)); fi; }

"$bin" send --brokers "$brokers" --type definition.register --workspace acme \
  --payload '{"slug":"coder","name":"Coder","agent_type":"llm"}' --wait > "$work/def.out"
"$bin" send --brokers "$brokers" --type instance.spawn --workspace acme --project web \
  --payload '{"definition":"coder","name":"c1","instance_id":"c1"}' --wait > "$work/spawn.out"
check grep -q '"instance.spawned"' "$work/spawn.out"

# README: kcat (murmur2 partitioner).
echo 'acme|{"schema":"agentcore.command/v1","id":"k1","type":"instance.heartbeat","workspace_id":"acme","project_id":"web","actor":"kcat","payload":{"instance_id":"c1"}}' \
  | kcat -P -b "$brokers" -t agentcore.commands -K '|' -X partitioner=murmur2_random

# README: Python with confluent-kafka.
python3 - "$brokers" <<'PY'
import json, sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "partitioner": "murmur2_random",
              "enable.idempotence": True})
cmd = {"schema": "agentcore.command/v1", "id": "py-1", "type": "context.write",
       "workspace_id": "acme", "project_id": "web", "actor": "py",
       "payload": {"instance_id": "c1", "name": "plan", "data": {"step": 2}}}
p.produce("agentcore.context-writes", key="acme", value=json.dumps(cmd)); p.flush()
PY

"$bin" tail --brokers "$brokers" --topic heartbeats --type instance.heartbeat --json --limit 1 --idle-exit 20 > "$work/hb.out"
check grep -q '"command_id":"k1"' "$work/hb.out"
"$bin" tail --brokers "$brokers" --topic status --type context.version_created --json --limit 1 --idle-exit 20 > "$work/ctx.out"
check grep -q '"command_id":"py-1"' "$work/ctx.out"
kcat -C -b "$brokers" -t agentcore.status -e -q > "$work/kcat.out"
check grep -q '"type":"context.created"' "$work/kcat.out"
echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

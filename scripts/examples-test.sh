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
# The browser test: Debian's Chromium and its driver, selenium in a venv of its own.
if ! command -v chromedriver >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver python3-venv >/dev/null
fi
console_venv=${TMPDIR:-/tmp}/agentcore-console-venv
if ! "$console_venv/bin/python" -c 'import selenium' 2>/dev/null; then
  python3 -m venv "$console_venv"
  "$console_venv/bin/pip" install --quiet --disable-pip-version-check selenium==4.51.0
fi
console_py=$console_venv/bin/python
curl_ok() { python3 -c 'import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=10).status == 200 else 1)' "$1"; }
python3 -c 'import confluent_kafka' 2>/dev/null || python3 -m pip install --quiet confluent-kafka \
  || python3 -m pip install --quiet --break-system-packages confluent-kafka
port=$((30000 + $$ % 1000))
brokers=127.0.0.1:$port
http=http://127.0.0.1:$((31000 + $$ % 1000))
work=$(mktemp -d "${TMPDIR:-/tmp}/agentcore-examples.XXXXXX")
cleanup() { kill "$worker" "$broker" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$bin" broker --port "$port" --partitions 4 > "$work/broker.log" 2>&1 & broker=$!
sleep 1
"$bin" worker --brokers "$brokers" --mock-broker --data-dir "$work/data" --worker-id examples \
  --http-addr "${http#http://}" > "$work/worker.log" 2>&1 & worker=$!
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

# The HTTP API (docs/http-api.md) against its OpenAPI document, then the web console in
# headless Chromium: README's instance c1 with three versions of its context and a rollback.
for step in 3 4; do
  "$bin" send --brokers "$brokers" --type context.write --workspace acme --project web \
    --payload "{\"instance_id\":\"c1\",\"name\":\"plan\",\"data\":{\"step\":$step,\"items\":[1,$step]}}" --wait > /dev/null
done
"$bin" send --brokers "$brokers" --type context.rollback --workspace acme --project web \
  --payload '{"instance_id":"c1","name":"plan","target_version":1}' --wait > /dev/null
check curl_ok "$http/v1/workspaces/acme/projects/web/instances/c1/contexts/plan/diff?from=1&to=3"
check scripts/check_openapi.sh "$http"
out=${TEST_OUTPUT:-.build/test-output}/console
mkdir -p "$out"
check "$console_py" scripts/console_test.py --base-url "$http" --workspace acme --project web --instance c1 \
  --context plan --out "$out"
echo "console screenshots: $(cd "$out" && pwd)/console-instance.png $(cd "$out" && pwd)/console-diff.png"

# README "Agents": the built-in example host beside the worker, a message from scribe-1 to
# scribe-2 (written into scribe-2's context, answered), fragile-1 in error with its reason,
# then SIGTERM: every instance offline and exit status 0.
"$bin" agents run --brokers "$brokers" --read-url "$http" > "$work/agents.log" 2>&1 & agents=$!
for _ in $(seq 1 150); do grep -q "acknowledged with version" "$work/agents.log" && break; sleep 0.2; done
check grep -q "acknowledged with version" "$work/agents.log"
"$bin" send --brokers "$brokers" --wait --type agent.message --workspace demo --project agents \
  --payload '{"from_instance_id":"scribe-1","to_instance_id":"scribe-2","body":{"text":"hi"}}' > "$work/message.out"
check grep -q '"type":"agent.message_delivered"' "$work/message.out"
check python3 -c 'import json, sys, urllib.request
i = json.load(urllib.request.urlopen(sys.argv[1] + "/v1/workspaces/demo/projects/agents/instances/fragile-1", timeout=10))
sys.exit(0 if i["status"] == "error" and "endpoint" in (i["last_error"] or "") else 1)' "$http"
kill -TERM "$agents"
agents_status=0; wait "$agents" || agents_status=$?
check [ "$agents_status" -eq 0 ]
check grep -q "instance scribe-2 is offline" "$work/agents.log"

echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# Checks a running worker's HTTP API against schemas/openapi.yaml with schemathesis.
#
#   scripts/check_openapi.sh BASE_URL          e.g. scripts/check_openapi.sh http://127.0.0.1:8080
#
# Read API only: every GET operation except the endless /v1/events stream, valid inputs only
# (--mode positive: random but well-formed ids, so most workspace reads answer 404 not_found,
# which the spec documents). Checks: status codes, Content-Type, response bodies and response
# headers (X-Agentcore-Worker/-Partition on 200s, Retry-After on 503s) as the spec declares them.
# A bounded number of cases per operation and a fixed seed keep it under two minutes.
# If the worker has a token, export AGENTCORE_HTTP_TOKEN and it is sent as a bearer token.
# Creates its own virtualenv with the pinned schemathesis under ${TMPDIR:-/tmp} on first use.
# schemathesis keeps its crash cache in ./.schemathesis, so it runs in ${TMPDIR:-/tmp}/agentcore-oas-run
# (reproduce a failure there: cd that directory && "$venv/bin/st" replay <test case id>).
# Exits with schemathesis's status: 0 when every check passed.
set -euo pipefail
spec=$(cd "$(dirname "$0")/.." && pwd)/schemas/openapi.yaml

if [ "$#" -ne 1 ]; then
  echo "usage: $0 BASE_URL   (a running worker, e.g. http://127.0.0.1:8080)" >&2
  exit 2
fi
base_url=${1%/}
schemathesis_version=4.32.5
venv=${TMPDIR:-/tmp}/agentcore-oas-venv

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$schemathesis_version"; then
  python3 -m venv "$venv" || { echo "$0: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 2; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

auth=()
if [ -n "${AGENTCORE_HTTP_TOKEN:-}" ]; then
  auth=(--header "Authorization: Bearer $AGENTCORE_HTTP_TOKEN")
fi

workdir=${TMPDIR:-/tmp}/agentcore-oas-run
mkdir -p "$workdir"
cd "$workdir"
exec "$venv/bin/schemathesis" run "$spec" \
  --url "$base_url" \
  --include-method GET \
  --exclude-path /v1/events \
  --mode positive \
  --phases examples,coverage,fuzzing \
  --checks status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples 30 \
  --seed 20261207 \
  --generation-database none \
  --request-timeout 10 \
  --workers 2 \
  --no-color \
  "${auth[@]}"

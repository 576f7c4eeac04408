#!/usr/bin/env bash
# README command 1: install what is missing, build, and run `agentcore dev` with a demo load
# (embedded Kafka, topics, two workers). Extra arguments go to `agentcore dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "building agentcore (the first build takes a few minutes)…"
swift build -c release --product agentcore 2>&1 | grep -E "error|warning: unre|Compiling agentcore|Build complete" || true
exec .build/release/agentcore dev "$@"

#!/usr/bin/env bash
# README command 1: install what is missing, build, and run `agentcore dev` with a demo load
# (embedded Kafka, topics, two workers, the web console). Extra arguments go to `agentcore dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "building agentcore (the first build takes a few minutes; progress below)…"
# swift build prints "[n/m] Compiling …" per step: show every 25th step, errors and the end.
last=0
status=0
while IFS= read -r line; do
  case "$line" in
    *error:*) echo "$line"; status=1 ;;
    *"warning: unre"*|*"Build complete"*|*"Build of product"*) echo "$line" ;;
    "["[0-9]*"/"[0-9]*"]"*)
      step=${line%%]*}; step=${step#[}; n=${step%/*}; m=${step#*/}
      if (( n - last >= 25 || n == m )); then echo "  build step $n of $m"; last=$n; fi ;;
  esac
# --static-swift-stdlib: the build the image ships (deploy/Dockerfile), and scripts/bench.sh's.
done < <(swift build -c release --static-swift-stdlib --product agentcore 2>&1 || echo "error: swift build failed ($?)")
[ "$status" -eq 0 ] && [ -x .build/release/agentcore ] || { echo "the build failed" >&2; exit 1; }
exec .build/release/agentcore dev "$@"

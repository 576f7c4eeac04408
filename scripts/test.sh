#!/usr/bin/env bash
# README command 2 and what CI runs: contract checks, then the whole Swift test suite
# (unit, embedded-cluster integration and multi-process tests). Arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
for check in scripts/check_schemas.py scripts/check_deploy.py; do
  if ! out=$(python3 "$check" 2>&1); then echo "$out"; exit 1; fi
  echo "$check: $(echo "$out" | tail -n 1)"
done
swift build --build-tests
log=$(mktemp "${TMPDIR:-/tmp}/agentcore-test.XXXXXX")
trap 'rm -f "$log"' EXIT
status=0
swift test "$@" 2>&1 | tee "$log" || status=$?
# One plain closing line: Swift Testing's counts (XCTest runs no tests here).
total=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
failed=$(grep -cE '^✘ Test .* failed' "$log" || true)
echo "swift-testing: $((total - failed)) passed, ${failed} failed"
exit "$status"

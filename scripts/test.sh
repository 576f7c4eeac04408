#!/usr/bin/env bash
# README command 2 and what CI runs: contract checks, the whole Swift test suite (unit,
# embedded-cluster integration and multi-process tests), then README's kcat and Python
# examples against `agentcore broker`. Arguments go to `swift test` (and skip the examples).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
for check in scripts/check_schemas.py scripts/check_deploy.py; do
  if ! out=$(python3 "$check" 2>&1); then echo "$out"; exit 1; fi
  echo "$check: $(echo "$out" | tail -n 1)"
done
# The formatter's configuration (.swift-format, hummingbird's) stays applied: fix with
# `swift format format --in-place --recursive Sources Tests Package.swift`.
if swift format --version >/dev/null 2>&1; then
  swift format lint --strict --recursive --parallel Sources Tests Package.swift
  echo "swift format lint: clean"
else
  echo "swift format is not in this toolchain: format check skipped"
fi
swift build --build-tests
log=$(mktemp "${TMPDIR:-/tmp}/agentcore-test.XXXXXX")
trap 'rm -f "$log"' EXIT
status=0
swift test "$@" 2>&1 | tee "$log" || status=$?
total=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
failed=$(grep -cE '^✘ Test .* failed' "$log" || true)
passed=$((total - failed))
if [ "$#" -eq 0 ]; then
  scripts/examples-test.sh 2>&1 | tee "$log" || status=1
  ex=$(grep -oE '^examples: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
  passed=$((passed + $(echo "${ex:-examples: 0 passed, 1 failed}" | sed -E 's/.* ([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "${ex:-examples: 0 passed, 1 failed}" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
fi
# One plain closing line over Swift Testing and the examples (XCTest runs no tests here).
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"

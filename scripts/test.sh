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
swift test "$@"

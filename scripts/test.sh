#!/usr/bin/env bash
# The whole test suite, in CI's order: lint, typecheck, unit, end-to-end (real engine; needs root).
# Ends with one line "N passed, N failed" over both suites.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
out=$(mktemp -d)
npm run --silent lint
npm run --silent typecheck
status=0
npx vitest run --config vitest.config.ts --reporter=default --reporter=json --outputFile.json="$out/unit.json" || status=$?
if [ $status = 0 ]; then
  npm run --silent build
  npx vitest run --config vitest.config.e2e.ts --reporter=default --reporter=json --outputFile.json="$out/e2e.json" || status=$?
fi
# shellcheck disable=SC2016 # a JavaScript program, not shell
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) continue;
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests || 0);
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$out/unit.json" "$out/e2e.json"
exit $status

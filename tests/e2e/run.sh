#!/usr/bin/env bash
# The browser tests, in one command: builds the debug binary if needed,
# installs playwright-core (pinned, from package-lock.json), and drives
# Debian's Chromium (/usr/bin/chromium; `apt-get install chromium`) through
# every flow. Screenshots go to target/e2e-screenshots (printed at the end).
#
#   tests/e2e/run.sh                 # all of them
#   tests/e2e/run.sh look.test.mjs   # one file
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
ROOT=$(cd ../.. && pwd)

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "Chromium is missing: apt-get install -y chromium (or set CHROMIUM)" >&2
  exit 1
fi
if [ -z "${TANGERINE_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --locked --bin tangerine)
fi
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if [ $# -eq 0 ]; then set -- *.test.mjs; fi
exec node --test --test-concurrency=1 --test-timeout=300000 "$@"

#!/usr/bin/env bash
# The whiteboard benchmark: a page with 5,000 pen strokes in Debian's Chromium, driven by
# Playwright against a release build of Lectern. Prints one JSON line per measurement
# (docs/benchmarks.md, "Whiteboard: a full page").
#   bench/board.sh                 # 5,000 strokes of 20 points
#   BOARD_STROKES=10000 bench/board.sh
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/setup --for-tests >/dev/null
.ci/setup --release >/dev/null
PATH="$PWD/.tools/node_modules/.bin:$PATH" cargo leptos build --release
(cd end2end && npx playwright test --config bench.config.ts) | grep -E '^\{|passed|failed'

#!/usr/bin/env bash
# pnpm bench: builds the CLI under test and the testkit (loaded from dist), bundles the
# bench, runs all four benchmarks in one go and writes bench/results + docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")"
pnpm --filter kuvasz-streamer build >/dev/null
pnpm --filter @kuvasz/testkit build >/dev/null
pnpm exec esbuild src/main.ts --bundle --platform=node --format=esm --target=node20 \
  --external:pg --external:@kuvasz/testkit --conditions=@kuvasz/source --outfile=dist/bench.mjs --log-level=warning
exec node dist/bench.mjs "$@"

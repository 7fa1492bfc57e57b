#!/usr/bin/env bash
# Builds the testkit (the bench loads it from dist), bundles the bench with our src, runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm --filter @kuvasz/testkit build >/dev/null
# Workspace packages (@kuvasz/core) are bundled from their sources, so the bench needs no prior build.
pnpm exec esbuild bench/bench.ts --bundle --platform=node --format=esm \
  --external:pg --external:pg-copy-streams --external:@kuvasz/testkit \
  --conditions=@kuvasz/source --outfile=bench/dist/bench.mjs --log-level=warning
node bench/dist/bench.mjs

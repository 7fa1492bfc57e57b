#!/usr/bin/env bash
# Builds the testkit (the bench loads it from dist), bundles a bench with our src and pgoutput's, runs it.
# `bash bench/run.sh` runs bench.ts; `bash bench/run.sh engine-only` (or trickle, ...) runs bench/<name>.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-bench}"
pnpm --filter @kuvasz/testkit build >/dev/null
pnpm exec esbuild "bench/$name.ts" --bundle --platform=node --format=esm \
  --external:pg --external:@kuvasz/testkit --conditions=@kuvasz/source \
  --outfile="bench/dist/$name.mjs" --log-level=warning
node "bench/dist/$name.mjs"

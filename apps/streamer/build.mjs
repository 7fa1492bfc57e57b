// Bundles the CLI into one ESM file that runs with plain `node` from any
// directory: workspace packages and npm dependencies are inlined, so nothing
// is resolved at run time except the optional embedded PostgreSQL binaries.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/kuvasz-streamer.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  conditions: ['@kuvasz/source'],
  // pg optionally requires pg-native; we never use it.
  external: ['pg-native', 'pg-binaries-*', '@testcontainers/postgresql', 'testcontainers'],
  define: { KUVASZ_VERSION: JSON.stringify(pkg.version) },
  banner: {
    js: [
      '#!/usr/bin/env node',
      // Bundled CommonJS dependencies (pg, pino) call require(); give them one.
      "import { createRequire as __kvszCreateRequire } from 'node:module';",
      'const require = __kvszCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  logLevel: 'warning',
});

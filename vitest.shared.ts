import { defineConfig, type ViteUserConfig } from 'vitest/config';

/**
 * Tests run against `src/` through the `@kuvasz/source` export condition, so
 * `pnpm test` needs no prior build. Database tests get generous timeouts: a
 * cluster start is ~1 s, but the CI machine is shared and slow at times.
 */
export function kuvaszVitestConfig(overrides: ViteUserConfig['test'] = {}): ViteUserConfig {
  // Vite's own server defaults follow ours; vitest/config does not re-export them.
  const conditions = ['@kuvasz/source', 'module', 'node', 'development|production'];
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      globalSetup: [new URL('./packages/testkit/src/global-setup.ts', import.meta.url).pathname],
      ...overrides,
    },
  });
}

import { kuvaszVitestConfig } from '../vitest.shared.ts';

// Scenarios run a CLI process against several clusters on a shared 2-core machine:
// a test gets up to 3 minutes (the larger knobs extend their own tests).
export default kuvaszVitestConfig({
  include: ['**/*.test.ts'],
  exclude: ['node_modules/**'],
  testTimeout: 180_000,
});

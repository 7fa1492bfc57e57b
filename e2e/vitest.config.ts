import { kuvaszVitestConfig } from '../vitest.shared.ts';

export default kuvaszVitestConfig({ include: ['**/*.test.ts'], exclude: ['node_modules/**'] });

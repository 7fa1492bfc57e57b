import { kuvaszVitestConfig } from '../../vitest.shared.ts';

export default kuvaszVitestConfig();

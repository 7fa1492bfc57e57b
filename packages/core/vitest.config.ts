import { kuvaszVitestConfig } from '../../vitest.shared.ts';

// No database here: the testkit's cluster reaper is not needed.
export default kuvaszVitestConfig({ globalSetup: [] });

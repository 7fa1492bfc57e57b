import { reapOrphanClusters } from './registry.js';

/**
 * vitest globalSetup: clusters whose owning test process died (a crashed or
 * timed-out worker) are stopped and removed before and after the run.
 */
export default function setup(): () => void {
  reapOrphanClusters();
  return () => {
    reapOrphanClusters();
  };
}

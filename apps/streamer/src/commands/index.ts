import type { CliArgs, Command } from '../cli/args.js';
import { StreamerError } from '../errors.js';
import { applyHeapPolicy } from '../runtime/heap-policy.js';

/** Runs a command that needs a configuration (or starts its own, for demo); returns its exit code. */
export async function runCommand(command: Command, args: CliArgs): Promise<number> {
  switch (command) {
    case 'run':
      // Long-running: keep the heap near its live size (see heap-policy.ts).
      applyHeapPolicy();
      return (await import('./run.js')).runCommand(args);
    case 'validate':
      return (await import('./validate.js')).validateCommand(args);
    case 'plan':
      return (await import('./plan.js')).planCommand(args);
    case 'status':
      return (await import('./status.js')).statusCommand(args);
    case 'cutover':
      return (await import('./cutover.js')).cutoverCommand(args);
    case 'demo':
      return (await import('./demo.js')).demoCommand(args);
    case 'teardown':
      return (await import('./teardown.js')).teardownCommand(args);
    default:
      throw new StreamerError('usage', `the ${command} command is not available in this build yet`);
  }
}

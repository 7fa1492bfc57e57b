import type { CliArgs, Command } from '../cli/args.js';
import { StreamerError } from '../errors.js';

/** Runs a command that needs a configuration; returns its exit code. */
export async function runCommand(command: Command, args: CliArgs): Promise<number> {
  switch (command) {
    case 'run':
      return (await import('./run.js')).runCommand(args);
    default:
      throw new StreamerError('usage', `the ${command} command is not available in this build yet`);
  }
}

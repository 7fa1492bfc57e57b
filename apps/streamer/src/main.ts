import { type CliArgs, parseCli } from './cli/args.js';
import { COMMAND_HELP, MAIN_HELP, VERSION } from './cli/help.js';
import { configJsonSchema } from './config/schema.js';
import { Redactor } from './config/secrets.js';
import { ConfigError, EXIT, StreamerError } from './errors.js';

/**
 * A reader that went away (`status | head -1`) ends the command quietly: what
 * it wanted was printed. Without a listener the write's EPIPE is an
 * unhandled 'error' event and a stack trace. A closed stderr has nobody to
 * tell, so its errors are dropped.
 */
function quietOnClosedPipes(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  process.stderr.on('error', () => {});
}

async function dispatch(args: CliArgs): Promise<number> {
  if (args.version || args.command === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (!args.command || args.command === 'help') {
    process.stdout.write(args.topic ? (COMMAND_HELP[args.topic] ?? MAIN_HELP) : MAIN_HELP);
    return EXIT.ok;
  }
  if (args.help) {
    process.stdout.write(COMMAND_HELP[args.command] ?? MAIN_HELP);
    return EXIT.ok;
  }
  switch (args.command) {
    case 'schema':
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return EXIT.ok;
    case 'status-schema': {
      const { statusJsonSchema } = await import('./runtime/status-document.js');
      process.stdout.write(`${JSON.stringify(statusJsonSchema(), null, 2)}\n`);
      return EXIT.ok;
    }
    default: {
      const { runCommand } = await import('./commands/index.js');
      return runCommand(args.command, args);
    }
  }
}

/** Maps every failure to a message without a stack trace, and an exit code. */
function report(err: unknown): number {
  const redactor = new Redactor();
  if (err instanceof ConfigError || err instanceof StreamerError) {
    process.stderr.write(`kuvasz-streamer: ${redactor.redact(err.message)}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`kuvasz-streamer: unexpected error: ${redactor.redact(e.message)}\n`);
  if (process.env.KUVASZ_DEBUG) process.stderr.write(`${redactor.redact(e.stack ?? '')}\n`);
  return EXIT.runtime;
}

async function main(): Promise<void> {
  quietOnClosedPipes();
  let code: number;
  try {
    code = await dispatch(parseCli(process.argv.slice(2)));
  } catch (err: unknown) {
    code = report(err);
  }
  process.exitCode = code;
}

await main();

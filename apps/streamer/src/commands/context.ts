import type { Logger } from 'pino';
import type { CliArgs } from '../cli/args.js';
import { type Config, loadConfig } from '../config/load.js';
import { Redactor } from '../config/secrets.js';
import { StreamerError } from '../errors.js';
import { createLogger } from '../observability/logger.js';

export interface Context {
  cfg: Config;
  log: Logger;
  redactor: Redactor;
}

export function configFile(args: CliArgs, command: string): string {
  const file = args.config ?? args.map;
  if (!file)
    throw new StreamerError(
      'usage',
      `${command} needs a configuration: -c <file> (or --map <file> --destination <url>)`,
    );
  return file;
}

/** Loads and validates the configuration before anything connects anywhere. */
export async function loadContext(args: CliArgs, command: string): Promise<Context> {
  const cfg = await loadConfig(configFile(args, command), { destination: args.destination });
  const redactor = new Redactor(cfg.secrets);
  const log = createLogger({
    level: args.logLevel ?? cfg.log.level,
    format: args.logFormat ?? cfg.log.format,
    redactor,
  });
  return { cfg, log, redactor };
}

import type { Logger } from 'pino';
import type { CliArgs } from '../cli/args.js';
import type { Config } from '../config/load.js';
import { configSource, loadRequestedConfig } from '../config/resolve.js';
import { Redactor } from '../config/secrets.js';
import { createLogger } from '../observability/logger.js';

export interface Context {
  cfg: Config;
  log: Logger;
  redactor: Redactor;
}

/** The file the command line names, or the first of the original's search path that exists. */
export function configFile(args: CliArgs, command: string): string {
  return configSource({ config: args.config, conf: args.conf, map: args.map }, command).file;
}

/** The configuration the command line asks for (`-c`, `--conf`, `--map`, or the original's search path). */
export function loadArgsConfig(args: CliArgs, command: string): Promise<Config> {
  return loadRequestedConfig(
    {
      config: args.config,
      conf: args.conf,
      map: args.map,
      destination: args.destination,
      settings: args.settings,
    },
    command,
  );
}

/** Loads and validates the configuration before anything connects anywhere. */
export async function loadContext(args: CliArgs, command: string): Promise<Context> {
  const cfg = await loadArgsConfig(args, command);
  const redactor = new Redactor(cfg.secrets);
  const log = createLogger({
    level: args.logLevel ?? cfg.log.level,
    format: args.logFormat ?? cfg.log.format,
    redactor,
  });
  for (const notice of cfg.notices) log.info({ config: cfg.file }, notice);
  return { cfg, log, redactor };
}

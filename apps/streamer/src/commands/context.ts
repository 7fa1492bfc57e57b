import { redactPasswords } from '@kuvasz/core';
import type { Logger } from 'pino';
import { MapSource } from '../admin/map-source.js';
import type { CliArgs } from '../cli/args.js';
import type { Config } from '../config/load.js';
import { configSource, loadRequestedConfig } from '../config/resolve.js';
import { Redactor } from '../config/secrets.js';
import { StreamerError } from '../errors.js';
import { createLogger } from '../observability/logger.js';

/** How long a command waits for the destination holding the map. */
const MAP_TIMEOUT_MS = 15_000;

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

/**
 * Loads and validates the configuration before anything connects anywhere;
 * in database mode (the map in the destination) the sources are then read
 * from the map (`run` does that itself, retrying: `withMap: false`).
 */
export async function loadContext(
  args: CliArgs,
  command: string,
  options: { withMap?: boolean } = {},
): Promise<Context> {
  const cfg = await loadArgsConfig(args, command);
  const redactor = new Redactor(cfg.secrets);
  const log = createLogger({
    level: args.logLevel ?? cfg.log.level,
    format: args.logFormat ?? cfg.log.format,
    redactor,
  });
  for (const notice of cfg.notices) log.info({ config: cfg.file }, notice);
  if (cfg.map.mode !== 'database' || options.withMap === false) return { cfg, log, redactor };
  let map: MapSource;
  try {
    map = await MapSource.open(cfg, log, redactor, AbortSignal.timeout(MAP_TIMEOUT_MS));
  } catch (err) {
    throw new StreamerError(
      'runtime',
      `cannot read the map in the destination ${redactPasswords(cfg.destination.url)}: ${redactor.redact((err as Error).message)}`,
      { cause: err },
    );
  }
  try {
    return { cfg: await map.resolve(cfg), log, redactor };
  } finally {
    await map.close();
  }
}

import { existsSync } from 'node:fs';
import { StreamerError } from '../errors.js';
import { type Config, type ConfigFormat, formatOf, loadConfig } from './load.js';
import type { SettingFlag } from './settings.js';

/** Where the original looks for its configuration when `--conf` is not given, in order. */
export const SEARCH_PATH = [
  'kuvasz-streamer.toml',
  'conf/kuvasz-streamer.toml',
  '/etc/kuvasz/kuvasz-streamer.toml',
] as const;

/** What the command line says about the configuration. */
export interface ConfigRequest {
  /** `-c <file>`: YAML, or TOML for `*.toml`. */
  config?: string | undefined;
  /** `--conf <file>`: TOML whatever its name. */
  conf?: string | undefined;
  /** `--map <file>`: a bare map file. */
  map?: string | undefined;
  destination?: string | undefined;
  settings?: readonly SettingFlag[];
  env?: NodeJS.ProcessEnv;
  /** For the search path (default: the process's). */
  cwd?: string;
}

/** The file to read and its format: the one named, or the first of SEARCH_PATH that exists. */
export function configSource(
  req: ConfigRequest,
  command: string,
): { file: string; format: ConfigFormat } {
  if (req.conf) return { file: req.conf, format: 'toml' };
  const named = req.config ?? req.map;
  if (named) return { file: named, format: formatOf(named) };
  const cwd = req.cwd ?? process.cwd();
  for (const candidate of SEARCH_PATH) {
    const full = candidate.startsWith('/') ? candidate : `${cwd}/${candidate}`;
    const shown = req.cwd || candidate.startsWith('/') ? full : `./${candidate}`;
    if (existsSync(full)) return { file: shown, format: 'toml' };
  }
  throw new StreamerError(
    'usage',
    `${command} needs a configuration: -c <file> (YAML, or TOML for *.toml), --conf <file> (the original's TOML), or --map <file> --destination <url>; none of ${SEARCH_PATH.map((p) => (p.startsWith('/') ? p : `./${p}`)).join(', ')} exists`,
  );
}

/** Finds, reads and validates the configuration the command line asks for. */
export async function loadRequestedConfig(req: ConfigRequest, command: string): Promise<Config> {
  const { file, format } = configSource(req, command);
  return loadConfig(file, {
    format,
    destination: req.destination,
    flags: req.settings ?? [],
    env: req.env ?? process.env,
  });
}

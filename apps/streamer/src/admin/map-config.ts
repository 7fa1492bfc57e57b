import { type Config, parseConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { type MapSnapshot, toDatabases } from './map-model.js';

/**
 * The configuration with its sources taken from the map in the destination:
 * the map goes through the same validation as a configuration file's
 * `databases` (table names, types, expressions, sids), so a map that a file
 * could not hold is refused the same way.
 */
export function withMapSources(
  cfg: Config,
  map: MapSnapshot,
): { cfg: Config; idle: string[]; notices: string[] } {
  const { databases, idle } = toDatabases(map);
  if (databases.length === 0) return { cfg: { ...cfg, sources: [] }, idle, notices: [] };
  const fromMap = parseConfig(
    JSON.stringify({
      destination: { url: cfg.destination.url, schema: cfg.destination.schema },
      databases,
    }),
    '(the map in the destination)',
  );
  return {
    cfg: {
      ...cfg,
      sources: fromMap.sources,
      secrets: [...new Set([...cfg.secrets, ...fromMap.secrets])],
    },
    idle,
    notices: fromMap.notices,
  };
}

/**
 * Whether a map could run: the configuration's checks (table names,
 * expressions' syntax, sids and the slot names they make), without
 * connecting anywhere. A change the API would store must pass it, or the
 * next start would refuse the whole map.
 */
export function mapProblems(map: MapSnapshot): string[] {
  const { databases } = toDatabases(map);
  if (databases.length === 0) return [];
  try {
    parseConfig(
      JSON.stringify({ destination: { url: 'postgres://localhost/check' }, databases }),
      'the map',
    );
    return [];
  } catch (e) {
    if (e instanceof ConfigError)
      return e.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    throw e;
  }
}

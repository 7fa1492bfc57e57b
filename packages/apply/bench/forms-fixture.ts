import pg from 'pg';
import { ApplyEngine, type ApplyEngineOptions, type SourceRelation } from '../src/index.js';

/** The micro benches' table: `(id int key, a int, b text, c timestamptz)`. */
export function benchRelation(table: string): SourceRelation {
  return {
    schema: 'public',
    table,
    replicaIdentity: 'default',
    columns: [
      { name: 'id', typeOid: 23, isKey: true },
      { name: 'a', typeOid: 23, isKey: false },
      { name: 'b', typeOid: 25, isKey: false },
      { name: 'c', typeOid: 1184, isKey: false },
    ],
  };
}

/** One row of that table, in PostgreSQL text; `salt` varies the non-key values. */
export const benchRow = (id: number, salt: number): string[] => [
  String(id),
  String((id + salt) % 1000),
  `5d41402abc4b2a76b9719d911017c5${salt % 100}`,
  '2026-11-22 10:00:00.123456+00',
];

export const envNumber = (name: string, fallback: number): number =>
  Number(process.env[name] || fallback);

/**
 * The micro benches' engine: a pool of `workers + 2` connections to `url`
 * and one clone table `public.t` from source database `b`.
 */
export function benchEngine(
  url: string,
  workers: number,
  options: Partial<ApplyEngineOptions> = {},
  table: Partial<ApplyEngineOptions['tables'][number]> = {},
): { engine: ApplyEngine; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max: workers + 2 });
  pool.on('error', () => {});
  const engine = new ApplyEngine({
    destination: pool,
    workers,
    ...options,
    tables: [
      {
        source: { database: 'b', schema: 'public', table: 't' },
        target: { schema: 'public', table: 't' },
        type: 'clone',
        ...table,
      },
    ],
  });
  return { engine, pool };
}

/**
 * The map in the destination (the original's database mode): filled once
 * from the original's SQLite map file (made here with SQLite itself), never
 * again; its sources go through the configuration's validation (the
 * original's `replication=database` URLs work).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { useCluster } from '@kuvasz/testkit/vitest';
import pino from 'pino';
import initSqlJs from 'sql.js/dist/sql-asm.js';
import { describe, expect, test } from 'vitest';
import { MapSource } from '../src/admin/map-source.js';
import { parseConfig } from '../src/config/load.js';
import { Redactor } from '../src/config/secrets.js';

async function sqliteMap(statements: string): Promise<string> {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run(`create table db(db_id integer primary key, name text not null unique);
          create table url(url_id integer primary key, db_id integer not null, url text not null, sid text not null);
          create table tbl(tbl_id integer primary key, db_id integer not null, schema text not null default 'public',
                           name text not null, type text not null, target text not null, partitions_regex text null);
          ${statements}`);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'kvsz-map-')), 'map.db');
  writeFileSync(file, db.export());
  db.close();
  return file;
}

describe('the map in the destination', () => {
  const pgc = useCluster({ version: 17 });

  test('imported once from the SQLite map, then read from the destination', async () => {
    const c = pgc.get();
    const dst = await c.createDatabase();
    const source = `${c.urlFor('shop')}?replication=database&application_name=repl_shop`;
    const file = await sqliteMap(`insert into db values (1, 'shop');
      insert into url values (1, 1, '${source}', '12');
      insert into tbl values (1, 1, 'public', 'orders', 'clone', 'orders', null),
                             (2, 1, 'sales', 'invoices', 'history', 'invoices_h', null);`);
    const config = (sqlite: string) =>
      parseConfig(
        `destination: { url: "${c.urlFor(dst)}" }\nmap: { store: destination, import_sqlite: "${sqlite}" }\n`,
        'streamer.yaml',
      );
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const signal = AbortSignal.timeout(30_000);

    const first = await MapSource.open(config(file), log, new Redactor(), signal);
    try {
      const cfg = await first.resolve(config(file));
      expect(cfg.sources.map((s) => [s.database, s.sid])).toEqual([['shop', '12']]);
      // The original's walsender URL parameter is not given to this client.
      expect(cfg.sources[0]!.url).not.toContain('replication=');
      expect(
        cfg.sources[0]!.tables.map((t) => [
          t.source.schema,
          t.source.table,
          t.type,
          t.target.table,
        ]),
      ).toEqual([
        ['public', 'orders', 'clone', 'orders'],
        ['sales', 'invoices', 'history', 'invoices_h'],
      ]);
      expect(first.store().mode).toBe('destination');
    } finally {
      await first.close();
    }
    expect(lines.join('')).toContain('map imported into the destination');

    // A second start with another SQLite file: the destination's map stands.
    const other = await sqliteMap(`insert into db values (1, 'elsewhere');`);
    lines.length = 0;
    const second = await MapSource.open(config(other), log, new Redactor(), signal);
    try {
      expect((await second.store().load()).dbs).toEqual([{ id: expect.any(Number), name: 'shop' }]);
    } finally {
      await second.close();
    }
    expect(lines.join('')).toContain('map read from the destination');
    expect(lines.join('')).not.toContain('map imported');
  });
});

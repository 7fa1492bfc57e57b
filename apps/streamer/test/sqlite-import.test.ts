/** The original's SQLite map database, made here with SQLite itself (sql.js), read back as the map. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import initSqlJs from 'sql.js/dist/sql-asm.js';
import { describe, expect, test } from 'vitest';
import { readSqliteMap } from '../src/admin/sqlite-import.js';

async function mapFile(sql: string): Promise<string> {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run(sql);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'kvsz-sqlite-')), 'map.db');
  writeFileSync(file, db.export());
  db.close();
  return file;
}

// The original's schema (its migration 0001) and a map like its tests'.
const SCHEMA = `
  create table db(db_id integer primary key, name text not null unique);
  create table url(url_id integer primary key, db_id integer not null references db(db_id),
                   url text not null, sid text not null, unique (db_id, sid));
  create table tbl(tbl_id integer primary key, db_id integer not null references db(db_id),
                   schema text not null default 'public', name text not null, type text not null,
                   target text not null, partitions_regex text null, unique (db_id, schema, name));`;

describe('readSqliteMap', () => {
  test('reads databases, URLs and tables as the original wrote them', async () => {
    const file = await mapFile(`${SCHEMA}
      insert into db values (1, 'db1'), (2, 'db2');
      insert into url values (1, 1, 'postgres://kuvasz:kuvasz@127.0.0.1:6012/db1?replication=database&application_name=repl_db1', '12');
      insert into url values (2, 2, 'postgres://kuvasz:kuvasz@127.0.0.1:6013/db2', '13');
      insert into tbl (tbl_id, db_id, name, type, target, partitions_regex) values
        (1, 1, 't1', 'clone', 't1', NULL), (2, 1, 't2', 'clone', 'rt2', NULL),
        (3, 1, 't7', 'history', 't7', 't7_.*');
      insert into tbl values (4, 2, 'sales', 's1', 'append', 's1', NULL);`);
    const map = await readSqliteMap(file);
    expect(map.dbs).toEqual([
      { id: 1, name: 'db1' },
      { id: 2, name: 'db2' },
    ]);
    expect(map.urls.map((u) => [u.db_name, u.sid])).toEqual([
      ['db1', '12'],
      ['db2', '13'],
    ]);
    expect(
      map.tbls.map((t) => [t.db_name, t.schema, t.name, t.type, t.target, t.partitions_regex]),
    ).toEqual([
      ['db1', 'public', 't1', 'clone', 't1', null],
      ['db1', 'public', 't2', 'clone', 'rt2', null],
      ['db1', 'public', 't7', 'history', 't7', 't7_.*'],
      ['db2', 'sales', 's1', 'append', 's1', null],
    ]);
  });

  test('a file that is not a map says so', async () => {
    await expect(readSqliteMap('/nonexistent/map.db')).rejects.toThrow(
      'cannot read the SQLite map',
    );
    const other = await mapFile('create table x (a int);');
    await expect(readSqliteMap(other)).rejects.toThrow(
      'has no table db: not a kuvasz-streamer map database',
    );
    const bad = await mapFile(`${SCHEMA} insert into db values (1, 'd');
      insert into tbl values (1, 1, 'public', 't', 'mirror', 't', NULL);`);
    await expect(readSqliteMap(bad)).rejects.toThrow("table t has type 'mirror'");
  });
});

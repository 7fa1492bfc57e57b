import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import type initSqlJsType from 'sql.js';
// The asm.js build of SQLite as its source text, evaluated on first use: bundled
// as code, esbuild would re-print its 1.4 MB of minified JavaScript six times larger.
import sqlAsmSource from 'sql.js/dist/sql-asm.js?raw';
import { type MapSnapshot, TABLE_TYPES, type TableType } from './map-model.js';

/**
 * Reads the original kuvasz-streamer's map database (its "database mode"
 * SQLite file: tables `db(db_id, name)`, `url(url_id, db_id, url, sid)`,
 * `tbl(tbl_id, db_id, schema, name, type, target, partitions_regex)`) with
 * sql.js, SQLite compiled to JavaScript: no native module to build, nothing
 * to download. Read once, when the map in the destination is still empty.
 */
let sqlJs: typeof initSqlJsType | undefined;

/** sql.js's CommonJS module, run once from its source text. */
function loadSqlJs(): typeof initSqlJsType {
  if (!sqlJs) {
    const module = { exports: {} as unknown };
    const run = vm.runInThisContext(
      `(function (module, exports, require, __filename, __dirname) {${sqlAsmSource}\n})`,
      { filename: 'sql.js/dist/sql-asm.js' },
    ) as (...args: unknown[]) => void;
    run(module, module.exports, createRequire(import.meta.url), 'sql-asm.js', '.');
    sqlJs = module.exports as typeof initSqlJsType;
  }
  return sqlJs;
}

export async function readSqliteMap(file: string): Promise<MapSnapshot> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(`cannot read the SQLite map ${file}: ${(e as Error).message}`);
  }
  const SQL = await loadSqlJs()();
  let db: import('sql.js').Database;
  try {
    db = new SQL.Database(new Uint8Array(bytes));
  } catch (e) {
    throw new Error(`${file} is not a SQLite database: ${(e as Error).message}`);
  }
  const rows = (sql: string): Record<string, unknown>[] => {
    const out: Record<string, unknown>[] = [];
    const st = db.prepare(sql);
    try {
      while (st.step()) out.push(st.getAsObject());
    } finally {
      st.free();
    }
    return out;
  };
  try {
    const tables = new Set(
      rows(`SELECT name FROM sqlite_master WHERE type = 'table'`).map((r) => String(r.name)),
    );
    for (const t of ['db', 'url', 'tbl'])
      if (!tables.has(t))
        throw new Error(`${file} has no table ${t}: not a kuvasz-streamer map database`);
    const tblColumns = new Set(rows('PRAGMA table_info(tbl)').map((r) => String(r.name)));
    const dbs = rows('SELECT db_id, name FROM db ORDER BY db_id').map((r) => ({
      id: Number(r.db_id),
      name: String(r.name),
    }));
    const nameOf = new Map(dbs.map((d) => [d.id, d.name]));
    const urls = rows('SELECT url_id, db_id, url, sid FROM url ORDER BY url_id').map((r) => ({
      id: Number(r.url_id),
      db_id: Number(r.db_id),
      db_name: nameOf.get(Number(r.db_id)) ?? '',
      url: String(r.url),
      sid: String(r.sid),
    }));
    const schema = tblColumns.has('schema') ? 'schema' : `'public' AS schema`;
    const tbls = rows(
      `SELECT tbl_id, db_id, ${schema}, name, type, target, partitions_regex FROM tbl ORDER BY tbl_id`,
    ).map((r) => {
      const type = String(r.type);
      if (!(TABLE_TYPES as readonly string[]).includes(type))
        throw new Error(
          `${file}: table ${String(r.name)} has type '${type}'; expected clone, append or history`,
        );
      return {
        id: Number(r.tbl_id),
        db_id: Number(r.db_id),
        db_name: nameOf.get(Number(r.db_id)) ?? '',
        schema: String(r.schema ?? 'public'),
        name: String(r.name),
        type: type as TableType,
        target: r.target ? String(r.target) : String(r.name),
        partitions_regex: r.partitions_regex ? String(r.partitions_regex) : null,
        filter: null,
        set: null,
      };
    });
    return { dbs, urls, tbls };
  } finally {
    db.close();
  }
}

import { quoteIdent, sqlstateOf } from '@kuvasz/core';
import type pg from 'pg';
import type { Config } from '../config/load.js';
import { ApiError, badRequest, notFound } from './http-json.js';
import type {
  DbInput,
  DbRow,
  MapSnapshot,
  TblInput,
  TblRow,
  UrlInput,
  UrlRow,
} from './map-model.js';

/**
 * Where the map lives. `file`: the configuration file (the original's
 * declarative mode): the API reads it and refuses changes. `destination`:
 * tables in the destination's metadata schema (its database mode, without
 * the SQLite file): every instance and every restart sees the same map, and
 * the API changes it.
 */
export interface MapStore {
  readonly mode: 'file' | 'destination';
  load(): Promise<MapSnapshot>;
  createDb(input: DbInput): Promise<DbRow>;
  updateDb(id: number, input: DbInput): Promise<DbRow>;
  deleteDb(id: number): Promise<void>;
  createUrl(input: UrlInput): Promise<UrlRow>;
  updateUrl(id: number, input: UrlInput): Promise<UrlRow>;
  deleteUrl(id: number): Promise<UrlRow>;
  createTbl(input: TblInput): Promise<TblRow>;
  updateTbl(id: number, input: TblInput): Promise<TblRow>;
  deleteTbl(id: number): Promise<TblRow>;
}

/** The map of the configuration file, numbered in file order; read-only. */
export class FileMapStore implements MapStore {
  readonly mode = 'file' as const;
  private readonly snapshot: MapSnapshot;

  constructor(
    cfg: Config,
    private readonly file: string,
  ) {
    const dbs: DbRow[] = [];
    const urls: UrlRow[] = [];
    const tbls: TblRow[] = [];
    for (const s of cfg.sources) {
      let db = dbs.find((d) => d.name === s.database);
      if (!db) {
        db = { id: dbs.length + 1, name: s.database };
        dbs.push(db);
        for (const t of s.tables) {
          tbls.push({
            id: tbls.length + 1,
            db_id: db.id,
            db_name: db.name,
            schema: t.source.schema,
            name: t.source.table,
            type: t.type,
            target: t.target.table,
            partitions_regex: t.partitionsRegex ? t.partitionsRegex.source.slice(4, -2) : null,
            filter: t.rules?.filter ?? null,
            set: t.rules && t.rules.set.length > 0 ? Object.fromEntries(t.rules.set) : null,
          });
        }
      }
      urls.push({ id: urls.length + 1, db_id: db.id, db_name: db.name, url: s.url, sid: s.sid });
    }
    this.snapshot = { dbs, urls, tbls };
  }

  async load(): Promise<MapSnapshot> {
    return this.snapshot;
  }

  private readOnly(): never {
    throw new ApiError(
      403,
      'read_only',
      `the map is the configuration file ${this.file} (declarative mode): edit the file and send SIGHUP, or keep the map in the destination (map: { store: destination }) to change it through the API`,
    );
  }
  createDb = async (): Promise<DbRow> => this.readOnly();
  updateDb = async (): Promise<DbRow> => this.readOnly();
  deleteDb = async (): Promise<void> => this.readOnly();
  createUrl = async (): Promise<UrlRow> => this.readOnly();
  updateUrl = async (): Promise<UrlRow> => this.readOnly();
  deleteUrl = async (): Promise<UrlRow> => this.readOnly();
  createTbl = async (): Promise<TblRow> => this.readOnly();
  updateTbl = async (): Promise<TblRow> => this.readOnly();
  deleteTbl = async (): Promise<TblRow> => this.readOnly();
}

/** Unique and foreign-key violations as the API's answers. */
function conflictOf(e: unknown, what: string): unknown {
  const state = sqlstateOf(e);
  if (state === '23505') return new ApiError(409, 'conflict', `${what} already exists`);
  if (state === '23503') return badRequest(`database of this ${what} does not exist`);
  return e;
}

/** A table's values in `map_tbl`'s column order: db_id, schema, name, type, target, partitions_regex, filter, set. */
function tblValues(input: TblInput): unknown[] {
  return [
    input.db_id,
    input.schema,
    input.name,
    input.type,
    input.target ?? null,
    input.partitions_regex ?? null,
    input.filter ?? null,
    input.set ?? null,
  ];
}

/** The map in `<metadata schema>.map_db`, `map_url`, `map_tbl` of the destination. */
export class DestinationMapStore implements MapStore {
  readonly mode = 'destination' as const;
  private readonly s: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.s = quoteIdent(schema);
  }

  /** The rows as the API shows them (`db_name` joined, `target` defaulted); one row with `WHERE x.id = $1`. */
  private urlRows(where: string): string {
    return `SELECT u.id, u.db_id, d.name AS db_name, u.url, u.sid
              FROM ${this.s}.map_url u JOIN ${this.s}.map_db d ON d.id = u.db_id ${where}`;
  }

  private tblRows(where: string): string {
    return `SELECT t.id, t.db_id, d.name AS db_name, t.schema, t.name, t.type,
                   coalesce(t.target, t.name) AS target, t.partitions_regex, t.filter, t.set
              FROM ${this.s}.map_tbl t JOIN ${this.s}.map_db d ON d.id = t.db_id ${where}`;
  }

  async load(): Promise<MapSnapshot> {
    const [dbs, urls, tbls] = await Promise.all([
      this.pool.query<DbRow>(`SELECT id, name FROM ${this.s}.map_db ORDER BY id`),
      this.pool.query<UrlRow>(this.urlRows('ORDER BY u.id')),
      this.pool.query<TblRow>(this.tblRows('ORDER BY t.id')),
    ]);
    return { dbs: dbs.rows, urls: urls.rows, tbls: tbls.rows };
  }

  async isEmpty(): Promise<boolean> {
    const r = await this.pool.query(`SELECT 1 FROM ${this.s}.map_db LIMIT 1`);
    return r.rows.length === 0;
  }

  /** Replaces the whole map (an import), in one transaction. */
  async replace(map: MapSnapshot): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`DELETE FROM ${this.s}.map_db`);
      const ids = new Map<number, number>();
      for (const d of map.dbs) {
        const r = await c.query<{ id: number }>(
          `INSERT INTO ${this.s}.map_db (name) VALUES ($1) RETURNING id`,
          [d.name],
        );
        ids.set(d.id, r.rows[0]!.id);
      }
      for (const u of map.urls)
        await c.query(`INSERT INTO ${this.s}.map_url (db_id, url, sid) VALUES ($1, $2, $3)`, [
          ids.get(u.db_id),
          u.url,
          u.sid,
        ]);
      for (const t of map.tbls)
        await c.query(
          `INSERT INTO ${this.s}.map_tbl (db_id, schema, name, type, target, partitions_regex, filter, set)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            ids.get(t.db_id),
            t.schema,
            t.name,
            t.type,
            t.target === t.name ? null : t.target,
            t.partitions_regex,
            t.filter,
            t.set,
          ],
        );
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  private async one<T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[],
    what: string,
  ): Promise<T> {
    let r: pg.QueryResult<T>;
    try {
      r = await this.pool.query<T>(sql, params);
    } catch (e) {
      throw conflictOf(e, what);
    }
    const row = r.rows[0];
    if (!row) throw notFound(what);
    return row;
  }

  private async requireDb(id: number): Promise<void> {
    await this.db(id).catch(() => {
      throw badRequest(`database ${id} does not exist`);
    });
  }

  private async db(id: number): Promise<DbRow> {
    return this.one<DbRow>(
      `SELECT id, name FROM ${this.s}.map_db WHERE id = $1`,
      [id],
      `database ${id}`,
    );
  }

  createDb(input: DbInput): Promise<DbRow> {
    return this.one(
      `INSERT INTO ${this.s}.map_db (name) VALUES ($1) RETURNING id, name`,
      [input.name],
      `database ${input.name}`,
    );
  }

  updateDb(id: number, input: DbInput): Promise<DbRow> {
    return this.one(
      `UPDATE ${this.s}.map_db SET name = $2 WHERE id = $1 RETURNING id, name`,
      [id, input.name],
      `database ${id}`,
    );
  }

  async deleteDb(id: number): Promise<void> {
    await this.one(
      `DELETE FROM ${this.s}.map_db WHERE id = $1 RETURNING id`,
      [id],
      `database ${id}`,
    );
  }

  private async url(id: number): Promise<UrlRow> {
    return this.one<UrlRow>(this.urlRows('WHERE u.id = $1'), [id], `url ${id}`);
  }

  async createUrl(input: UrlInput): Promise<UrlRow> {
    await this.requireDb(input.db_id);
    const r = await this.one<{ id: number }>(
      `INSERT INTO ${this.s}.map_url (db_id, url, sid) VALUES ($1, $2, $3) RETURNING id`,
      [input.db_id, input.url, input.sid],
      `url with sid ${input.sid}`,
    );
    return this.url(r.id);
  }

  async updateUrl(id: number, input: UrlInput): Promise<UrlRow> {
    await this.one(
      `UPDATE ${this.s}.map_url SET db_id = $2, url = $3, sid = $4 WHERE id = $1 RETURNING id`,
      [id, input.db_id, input.url, input.sid],
      `url ${id}`,
    );
    return this.url(id);
  }

  async deleteUrl(id: number): Promise<UrlRow> {
    const row = await this.url(id);
    await this.pool.query(`DELETE FROM ${this.s}.map_url WHERE id = $1`, [id]);
    return row;
  }

  private async tbl(id: number): Promise<TblRow> {
    return this.one<TblRow>(this.tblRows('WHERE t.id = $1'), [id], `table ${id}`);
  }

  async createTbl(input: TblInput): Promise<TblRow> {
    await this.requireDb(input.db_id);
    const r = await this.one<{ id: number }>(
      `INSERT INTO ${this.s}.map_tbl (db_id, schema, name, type, target, partitions_regex, filter, set)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      tblValues(input),
      `table ${input.schema}.${input.name}`,
    );
    return this.tbl(r.id);
  }

  async updateTbl(id: number, input: TblInput): Promise<TblRow> {
    await this.one(
      `UPDATE ${this.s}.map_tbl SET db_id = $2, schema = $3, name = $4, type = $5, target = $6,
              partitions_regex = $7, filter = $8, set = $9 WHERE id = $1 RETURNING id`,
      [id, ...tblValues(input)],
      `table ${id}`,
    );
    return this.tbl(id);
  }

  async deleteTbl(id: number): Promise<TblRow> {
    const row = await this.tbl(id);
    await this.pool.query(`DELETE FROM ${this.s}.map_tbl WHERE id = $1`, [id]);
    return row;
  }
}

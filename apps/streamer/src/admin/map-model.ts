import { z } from 'zod';
import { regularExpression } from '../config/schema.js';

/**
 * The map as the original kuvasz-streamer's admin API shows it: source
 * databases, their URLs (one per server, each with its sid) and the tables
 * replicated from them. The same bodies and field names as the original.
 */

export const TABLE_TYPES = ['clone', 'append', 'history'] as const;
export type TableType = (typeof TABLE_TYPES)[number];

export interface DbRow {
  id: number;
  name: string;
}

export interface UrlRow {
  id: number;
  db_id: number;
  db_name: string;
  /** Never with its password: the API answers `***` in its place. */
  url: string;
  sid: string;
}

export interface TblRow {
  id: number;
  db_id: number;
  db_name: string;
  schema: string;
  name: string;
  type: TableType;
  target: string;
  partitions_regex: string | null;
  filter: string | null;
  set: Record<string, string> | null;
}

export interface MapSnapshot {
  dbs: DbRow[];
  urls: UrlRow[];
  tbls: TblRow[];
}

const name = z.string().trim().min(1).max(63);
export const dbInput = z.strictObject({ name: name.describe('Source database name') });

export const urlInput = z.strictObject({
  db_id: z.number().int().positive().describe('Database identifier'),
  url: z
    .string()
    .min(1)
    .refine((s) => /^postgres(ql)?:\/\//.test(s) || s.includes('='), {
      message: 'expected a postgres:// URL or a key=value connection string',
    })
    .describe('Connection URL of one source server'),
  sid: z
    .union([z.string().min(1), z.number().int()])
    .transform(String)
    .describe("Source id, written into the targets' sid column"),
});

export const tblInput = z.strictObject({
  db_id: z.number().int().positive().describe('Database identifier'),
  schema: name.default('public').describe('Source schema'),
  name: name.describe('Source table name'),
  type: z.enum(TABLE_TYPES).default('clone').describe('clone, append or history'),
  target: name.nullish().describe('Target table name (default: the source table name)'),
  partitions_regex: regularExpression
    .nullish()
    .describe('Leaf partitions whose changes go to this table'),
  filter: z.string().min(1).nullish().describe('CEL row filter'),
  set: z.record(z.string().min(1), z.string().min(1)).nullish().describe('Computed columns'),
});

export type DbInput = z.infer<typeof dbInput>;
export type UrlInput = z.infer<typeof urlInput>;
export type TblInput = z.infer<typeof tblInput>;

/**
 * The map as the YAML configuration's `databases` list, for the
 * configuration loader (one validation path for both). Databases without a
 * URL or a table cannot run yet: they are left out and named.
 */
export function toDatabases(map: MapSnapshot): { databases: unknown[]; idle: string[] } {
  const databases: unknown[] = [];
  const idle: string[] = [];
  for (const db of map.dbs) {
    const urls = map.urls.filter((u) => u.db_id === db.id);
    const tbls = map.tbls.filter((t) => t.db_id === db.id);
    if (urls.length === 0 || tbls.length === 0) {
      idle.push(db.name);
      continue;
    }
    const tables: Record<string, unknown> = {};
    for (const t of tbls) {
      tables[`${quotePart(t.schema)}.${quotePart(t.name)}`] = {
        type: t.type,
        ...(t.target && t.target !== t.name ? { target: t.target } : {}),
        ...(t.partitions_regex ? { partitions_regex: t.partitions_regex } : {}),
        ...(t.filter ? { filter: t.filter } : {}),
        ...(t.set && Object.keys(t.set).length > 0 ? { set: t.set } : {}),
      };
    }
    databases.push({
      database: db.name,
      urls: urls.map((u) => ({ url: u.url, sid: u.sid })),
      tables,
    });
  }
  return { databases, idle };
}

/** A name part as the configuration's table keys read it (quoted when it holds dots or quotes). */
function quotePart(s: string): string {
  return /^[^."]+$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}

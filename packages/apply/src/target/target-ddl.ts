import { displayName, qualifiedName, type TableRef } from '@kuvasz/core';
import { escapeIdentifier, escapeLiteral } from 'pg';
import type { TableDescription } from './describe-table.js';

export type TableType = 'clone' | 'append' | 'history';

/** The history sentinels, as instants (a bare '9999-01-01' would depend on the session's TimeZone). */
export const OPEN_END = '9999-01-01 00:00:00+00';
export const HISTORY_START = '1900-01-01 00:00:00+00';
export const HISTORY_COLUMNS = ['kvsz_start', 'kvsz_end', 'kvsz_deleted'] as const;

export interface ValidateTargetOptions {
  target: TableRef;
  type: TableType;
  /** True when more than one source writes into this table: it needs a `sid` column. */
  requireSid: boolean;
  /** Source column names, when known: checks NOT NULL target columns the source cannot fill. */
  sourceColumns?: readonly string[] | undefined;
}

/**
 * Every problem that would stop the engine from applying changes to this
 * target, each naming the table, the column and the fix. Empty when fine.
 */
export function validateTarget(
  description: TableDescription | undefined,
  options: ValidateTargetOptions,
): string[] {
  const name = displayName(options.target);
  if (!description) {
    return [`target table ${name} does not exist; create it (the \`plan\` command prints its DDL)`];
  }
  const problems: string[] = [];
  if (description.kind !== 'r' && description.kind !== 'p') {
    problems.push(
      `target ${name} is not a table (relkind '${description.kind}'); point the mapping at a table`,
    );
  }
  const byName = new Map(description.columns.map((c) => [c.name, c]));
  if (options.type === 'history') {
    const expect: Record<string, string> = {
      kvsz_start: 'timestamp with time zone',
      kvsz_end: 'timestamp with time zone',
      kvsz_deleted: 'boolean',
    };
    for (const [col, type] of Object.entries(expect)) {
      const c = byName.get(col);
      if (!c) {
        problems.push(
          `history table ${name} has no ${col} column; add it: ALTER TABLE ${qualifiedName(options.target)} ADD COLUMN ${col} ${type === 'boolean' ? 'boolean NOT NULL DEFAULT false' : 'timestamptz NOT NULL'}`,
        );
      } else if (c.type !== type) {
        problems.push(
          `history table ${name}: column ${col} is ${c.type}, expected ${type}; ALTER TABLE ${qualifiedName(options.target)} ALTER COLUMN ${col} TYPE ${type}`,
        );
      }
    }
  }
  if (options.requireSid && !byName.has('sid')) {
    problems.push(
      `target ${name} receives rows from several sources but has no sid column; add one (ALTER TABLE ${qualifiedName(options.target)} ADD COLUMN sid text NOT NULL) and include it in the primary key`,
    );
  }
  const sid = byName.get('sid');
  if (sid?.generated)
    problems.push(`target ${name}: the sid column is generated; it must be a plain column`);
  if (options.sourceColumns) {
    const source = new Set(options.sourceColumns);
    const shared = description.columns.filter((c) => source.has(c.name) && !c.generated);
    if (shared.length === 0) {
      problems.push(`target ${name} shares no column with its source; columns are matched by name`);
    }
    for (const c of description.columns) {
      const engineOwned =
        c.name === 'sid' || (HISTORY_COLUMNS as readonly string[]).includes(c.name);
      if (
        !engineOwned &&
        !source.has(c.name) &&
        c.notNull &&
        c.default === undefined &&
        !c.generated
      ) {
        problems.push(
          `target ${name}: column ${c.name} is NOT NULL without a default and the source has no such column; give it a default or drop NOT NULL`,
        );
      }
    }
  }
  return problems;
}

export interface PlanTargetOptions {
  target: TableRef;
  type: TableType;
  hasSid: boolean;
  /** Type of the sid column (default `text`). */
  sidType?: string;
  /**
   * History only: a unique index on the open versions, so the database itself
   * refuses a second open version of a key (the engine never writes one).
   * Default true. It costs: each version is one more index entry, and in the
   * package bench history updates ran about 25% faster without it (see the
   * README). The versions index `(sid, key, kvsz_end)` alone serves every
   * lookup of the engine and both queries of the spec (current version,
   * version at a time).
   */
  openVersionIndex?: boolean;
}

/**
 * DDL for a target table shaped after a source table: same column names and
 * types, `sid` first when wanted, the `kvsz_*` columns for history. Clone and
 * append get the primary key `(sid, source key)`; history gets a unique index
 * allowing one open version per key (unless `openVersionIndex: false`), and
 * the index `(sid, key, kvsz_end)` for the version lookups.
 * User-defined types (enums, domains, composites) must exist in the destination.
 */
export function planTargetDdl(source: TableDescription, options: PlanTargetOptions): string {
  const t = qualifiedName(options.target);
  const lines: string[] = [];
  if (options.hasSid) lines.push(`  sid ${options.sidType ?? 'text'} NOT NULL`);
  for (const c of source.columns) {
    if (c.generated) continue;
    lines.push(`  ${escapeIdentifier(c.name)} ${c.type}${c.notNull ? ' NOT NULL' : ''}`);
  }
  const key = [
    ...(options.hasSid ? ['sid'] : []),
    ...source.identityColumns.filter(() => source.replicaIdentity !== 'full'),
  ].map((k) => escapeIdentifier(k));
  const hasKey = source.replicaIdentity !== 'full' && source.identityColumns.length > 0;
  const stmts = [`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(options.target.schema)};`];
  if (options.type === 'history') {
    lines.push(
      '  kvsz_start timestamptz NOT NULL',
      '  kvsz_end timestamptz NOT NULL',
      '  kvsz_deleted boolean NOT NULL DEFAULT false',
    );
    stmts.push(`CREATE TABLE ${t} (\n${lines.join(',\n')}\n);`);
    if (hasKey) {
      const base = `${options.target.table}_`.slice(0, 40);
      if (options.openVersionIndex ?? true) {
        stmts.push(
          `CREATE UNIQUE INDEX ${escapeIdentifier(`${base}kvsz_open`)} ON ${t} (${key.join(', ')}) WHERE kvsz_end = ${escapeLiteral(OPEN_END)};`,
        );
      }
      stmts.push(
        `CREATE INDEX ${escapeIdentifier(`${base}kvsz_versions`)} ON ${t} (${[...key, 'kvsz_end'].join(', ')});`,
      );
    }
  } else {
    if (hasKey) lines.push(`  PRIMARY KEY (${key.join(', ')})`);
    stmts.push(`CREATE TABLE ${t} (\n${lines.join(',\n')}\n);`);
  }
  return `${stmts.join('\n')}\n`;
}

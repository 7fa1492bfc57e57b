import { type Logger, messageOf, redactPasswords } from '@kuvasz/core';
import {
  type ArenaBinaryDecoders,
  type BinaryTextDecoders,
  loadBinaryTextDecoders,
  type RelationMessage,
} from '@kuvasz/pgoutput';
import pg from 'pg';

/** How a source in binary mode turns its values into text where text is needed. */
export interface BinaryMode {
  /** A relation's decoders, one per column; undefined when a column's type has none. */
  decoders(relation: RelationMessage): ArenaBinaryDecoders | undefined;
}

/**
 * A binary value the streamer cannot turn into text: a column whose type
 * appeared after the source's binary mode was decided (a column added
 * since). Nothing of its transaction was applied; the source restarts and
 * decides again, in text mode this time.
 */
export class BinaryModeError extends Error {
  override readonly name = 'BinaryModeError';
}

/** The publication's column types (every table, every live column). */
const PUBLISHED_TYPES_SQL = `
SELECT DISTINCT a.atttypid::int AS oid, format('%I.%I.%I', n.nspname, c.relname, a.attname) AS col
  FROM pg_publication_tables pt
  JOIN pg_namespace n ON n.nspname = pt.schemaname
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE pt.pubname = $1`;

/**
 * Decides whether a source is read in binary mode: its server is 14 or
 * later, and every column type of the publication has a decoder that
 * reproduces the source's text output (under its settings: DateStyle ISO
 * for dates, a TimeZone Node.js knows for timestamptz, ...). Otherwise the
 * source is read in text mode, and the reason is logged.
 */
export async function planBinaryMode(
  url: string,
  publication: string,
  log: Logger,
): Promise<BinaryMode | undefined> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 15_000,
    application_name: 'kuvasz-streamer',
  });
  client.on('error', () => {});
  try {
    await client.connect().catch((e: unknown) => {
      throw new Error(
        `cannot read the binary-mode settings of ${redactPasswords(url)}: ${redactPasswords(messageOf(e))}`,
        { cause: e },
      );
    });
    const version = Number(
      (await client.query<{ v: string }>('SHOW server_version_num')).rows[0]!.v,
    );
    if (version < 140000) return textMode(log, 'the source runs PostgreSQL 13 or older');
    const columns = (
      await client.query<{ oid: number; col: string }>(PUBLISHED_TYPES_SQL, [publication])
    ).rows;
    // Settings matter only to the types they shape (DateStyle to dates, ...): a column's problem says so.
    const decoders = await loadBinaryTextDecoders(
      (text, values) => client.query(text, values),
      columns.map((c) => c.oid),
    );
    for (const c of columns) {
      const why = decoders.problem(c.oid);
      if (why) return textMode(log, `column ${c.col}: ${why}`);
    }
    log.info({ columns: columns.length }, 'reading the source in binary mode');
    return relationDecoders(decoders);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function textMode(log: Logger, reason: string): undefined {
  log.info({ reason }, 'apply.binary is set, but this source is read in text mode');
  return undefined;
}

/** Relation messages are replaced when a relation changes: one decoder array per message. */
function relationDecoders(d: BinaryTextDecoders): BinaryMode {
  const cache = new WeakMap<RelationMessage, ArenaBinaryDecoders | null>();
  return {
    decoders(relation) {
      let out = cache.get(relation);
      if (out === undefined) {
        const list = relation.columns.map((c) => d.decoder(c.typeOid));
        out = list.every((x) => x !== undefined) ? (list as ArenaBinaryDecoders) : null;
        cache.set(relation, out);
      }
      return out ?? undefined;
    },
  };
}

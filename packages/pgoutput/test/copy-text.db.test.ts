/**
 * PostgreSQL is the judge of COPY's text format: rows written by
 * writeCopyRow from Insert messages (built with the test-only builder) are
 * COPYed into a real server and read back unchanged.
 */
import { once } from 'node:events';
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import fc from 'fast-check';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CopyBuffer, MessageView, writeCopyRow } from '../src/index.js';
import { bytes } from './support/frame-builder.js';

type Row = [number, string | null, string | null, string | null];

describe('COPY text rows written from the view, into PostgreSQL 17', () => {
  let cluster: PgCluster | undefined;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    cluster = await startPostgres({ version: 17 });
    const db = await cluster.createDatabase();
    client = new pg.Client({ connectionString: cluster.urlFor(db) });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await cluster?.stop();
  });

  /** COPYs `rows` (as Insert tuples, the chosen columns in `order`) and reads them back. */
  async function roundTrip(rows: Row[], order: number[]): Promise<Row[]> {
    const c = client!;
    await c.query('DROP TABLE IF EXISTS "Copy Target"');
    await c.query('CREATE TABLE "Copy Target" (id int PRIMARY KEY, a text, b text, "select" text)');
    const names = ['id', 'a', 'b', '"select"'];
    const out = new CopyBuffer(64);
    const v = new MessageView();
    for (const [id, ...rest] of rows) {
      v.reset(
        bytes()
          .byte('I')
          .uint32(16385)
          .byte('N')
          .tuple([String(id), ...rest])
          .build(),
      );
      writeCopyRow(out, v.newTuple, order);
    }
    const stream = c.query(
      copyFrom(`COPY "Copy Target" (${order.map((i) => names[i]).join(', ')}) FROM STDIN`),
    );
    stream.end(Buffer.from(out.bytes()));
    await once(stream, 'finish');
    const res = await c.query<{ id: number; a: string | null; b: string | null; select: string }>(
      'SELECT id, a, b, "select" FROM "Copy Target" ORDER BY id',
    );
    return res.rows.map((r) => [r.id, r.a, r.b, r.select]);
  }

  test('escapes, NULL, \\N and \\. as text, multi-byte UTF-8, a BOM, a long value', async () => {
    const rows: Row[] = [
      [1, '\\N', null, ''],
      [2, '\\.', '\\', 'a\\tb (a backslash and a t)'],
      [3, 'tab\there', 'new\nline', 'carriage\rreturn\r\n'],
      [4, 'żółw 🐢 日本語', '\u{feff}bom', 'bell\x07 bs\b ff\f vt\v \x01'],
      [5, 'x'.repeat(100_000), '\\\\\t\t\n\n', null],
    ];
    expect(await roundTrip(rows, [0, 1, 2, 3])).toEqual(rows);
    // A subset in another order: the other columns are NULL.
    expect(await roundTrip(rows, [3, 0])).toEqual(rows.map(([id, , , s]) => [id, null, null, s]));
  });

  test('random text round-trips (2,000 rows)', async () => {
    const text = fc.option(
      fc.oneof(
        fc.string({ unit: fc.constantFrom('\\', '\t', '\n', '\r', 'N', '.', 'é', '🐢', '\b') }),
        fc.string({ unit: 'grapheme', maxLength: 20 }),
      ),
      { nil: null },
    );
    const values = fc.sample(fc.tuple(text, text, text), { numRuns: 2000, seed: 14 });
    // PostgreSQL text holds no NUL byte.
    const clean = (s: string | null) => (s === null ? null : s.replaceAll('\0', ''));
    const rows = values.map(([a, b, s], i): Row => [i, clean(a), clean(b), clean(s)]);
    expect(await roundTrip(rows, [0, 1, 2, 3])).toEqual(rows);
  });
});

/**
 * Diagnostic: what pgoutput's binary mode (`binary 'true'`, PG 14+) feeding
 * COPY BINARY would save against the text path the streamer uses (text
 * values, COPY text), on both servers, for the same rows:
 *
 * - source: the backend CPU of decoding a backlog of 10-row insert
 *   transactions through pgoutput (`pg_logical_slot_peek_binary_changes`,
 *   the WAL sender's work without the network), text against binary values;
 * - destination: the backend CPU of loading the same rows into an empty
 *   keyed table with `COPY ... FROM STDIN`, text against `FORMAT binary`.
 *
 * Two tables: the catch-up bench's (int, int, text, timestamptz) and one of
 * ten common types (bigint, numeric, float8, timestamptz, timestamp, date,
 * uuid, jsonb, bool, text), where binary input saves most. Each measurement
 * alternates text and binary, `KUVASZ_BENCH_RUNS` times, and prints the
 * median. `pnpm --filter @kuvasz/bench binary-mode`; env KUVASZ_BENCH_ROWS
 * (default 200,000 per table), KUVASZ_BENCH_RUNS (default 3).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startPostgres } from '@kuvasz/testkit';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { processCpuSeconds } from './cpu.js';
import { BENCH_SETTINGS, fmt, median, say } from './util.js';

const ROWS = Number(process.env.KUVASZ_BENCH_ROWS || 200_000);
const RUNS = Number(process.env.KUVASZ_BENCH_RUNS || 3);

const TABLES = [
  {
    name: 'narrow',
    ddl: 'CREATE TABLE narrow (id int PRIMARY KEY, a int NOT NULL, b text, c timestamptz)',
    insert: (lo: string, hi: string) =>
      `INSERT INTO narrow SELECT g, g % 1000, md5(g::text), now() FROM generate_series(${lo}, ${hi}) g`,
  },
  {
    name: 'typed',
    ddl: `CREATE TABLE typed (id bigint PRIMARY KEY, n numeric(14,2), f float8, t timestamptz,
      ts timestamp, d date, u uuid, j jsonb, flag bool, s text)`,
    insert: (lo: string, hi: string) =>
      `INSERT INTO typed SELECT g, g * 1.25, g / 7.0, now() + g * interval '1 s', localtimestamp,
        current_date - (g % 3000), md5(g::text)::uuid, jsonb_build_object('k', g, 'v', md5(g::text)),
        g % 2 = 0, repeat('x', 20 + g % 30) FROM generate_series(${lo}, ${hi}) g`,
  },
];

/** CPU seconds the backend of `client` used while `work` ran. */
async function backendCpu(client: pg.Client, work: () => Promise<unknown>): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0]!.pid;
  const before = processCpuSeconds(pid);
  await work();
  return processCpuSeconds(pid) - before;
}

const source = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
const dest = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
try {
  const srcDb = await source.createDatabase('src');
  const dstDb = await dest.createDatabase('dst');
  const src = new pg.Client({ connectionString: source.urlFor(srcDb) });
  const dst = new pg.Client({ connectionString: dest.urlFor(dstDb) });
  await src.connect();
  await dst.connect();
  const lines: string[] = [];
  for (const t of TABLES) {
    await src.query(t.ddl);
    await dst.query(t.ddl);
    await src.query(`CREATE PUBLICATION p_${t.name} FOR TABLE ${t.name}`);
    await src.query(`SELECT pg_create_logical_replication_slot('s_${t.name}', 'pgoutput')`);
    await src.query(`CREATE PROCEDURE gen_${t.name}(n int) LANGUAGE plpgsql AS $$
      BEGIN
        FOR i IN 0 .. n / 10 - 1 LOOP
          ${t.insert('i * 10 + 1', 'i * 10 + 10')};
          COMMIT;
        END LOOP;
      END $$`);
    await src.query(`CALL gen_${t.name}(${ROWS})`);

    // Source: pgoutput's output of the whole backlog, text against binary values.
    const peek = (binary: boolean) =>
      src.query(
        `SELECT count(*) AS n, sum(length(data)) AS bytes FROM pg_logical_slot_peek_binary_changes(
          's_${t.name}', NULL, NULL, 'proto_version', '1', 'publication_names', 'p_${t.name}'
          ${binary ? ", 'binary', 'true'" : ''})`,
      );
    const decode = { text: [] as number[], binary: [] as number[] };
    const bytes = { text: 0, binary: 0 };
    for (let r = 0; r < RUNS; r++) {
      for (const mode of ['text', 'binary'] as const) {
        let out: pg.QueryResult | undefined;
        decode[mode].push(
          await backendCpu(src, async () => {
            out = await peek(mode === 'binary');
          }),
        );
        bytes[mode] = Number(out?.rows[0]?.bytes);
      }
    }

    // Destination: the same rows by COPY, text against binary.
    const payload = { text: [] as Buffer[], binary: [] as Buffer[] };
    for (const mode of ['text', 'binary'] as const) {
      const stream = src.query(
        copyTo(`COPY ${t.name} TO STDOUT${mode === 'binary' ? ' (FORMAT binary)' : ''}`),
      );
      for await (const chunk of stream) payload[mode].push(chunk as Buffer);
    }
    const load = { text: [] as number[], binary: [] as number[] };
    for (let r = 0; r < RUNS; r++) {
      for (const mode of ['text', 'binary'] as const) {
        await dst.query(`TRUNCATE ${t.name}`);
        await dst.query('CHECKPOINT');
        load[mode].push(
          await backendCpu(dst, () =>
            pipeline(
              Readable.from(payload[mode]),
              dst.query(
                copyFrom(`COPY ${t.name} FROM STDIN${mode === 'binary' ? ' (FORMAT binary)' : ''}`),
              ),
            ),
          ),
        );
      }
    }
    const us = (seconds: number) => fmt((seconds * 1e6) / ROWS, 2);
    const row = (what: string, m: { text: number[]; binary: number[] }, extra = '') => {
      const text = median(m.text);
      const binary = median(m.binary);
      lines.push(
        `| ${t.name} | ${what} | ${us(text)} | ${us(binary)} | ${fmt(binary / text, 2)}x |${extra}`,
      );
    };
    row(
      'source: pgoutput decoding',
      decode,
      ` ${fmt(bytes.text / ROWS)} / ${fmt(bytes.binary / ROWS)} B per row |`,
    );
    row(
      'destination: COPY into a keyed table',
      load,
      ` ${fmt(Buffer.concat(payload.text).length / ROWS)} / ${fmt(Buffer.concat(payload.binary).length / ROWS)} B per row |`,
    );
  }
  await src.end();
  await dst.end();
  say(
    `\nBinary mode against text, ${ROWS.toLocaleString('en')} rows per table in 10-row transactions, PostgreSQL 17, backend CPU per row (median of ${RUNS}, alternated):\n`,
  );
  say('| table | work | text us/row | binary us/row | binary / text | size, text / binary |');
  say('| --- | --- | ---: | ---: | ---: | --- |');
  for (const l of lines) say(l);
} finally {
  await dest.stop();
  await source.dropSlots().catch(() => {});
  await source.stop();
}

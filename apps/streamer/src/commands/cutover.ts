import { describeTable } from '@kuvasz/apply';
import { displayName, formatLsn, parseLsn } from '@kuvasz/core';
import { kuvaszObjectName } from '@kuvasz/replication';
import pg from 'pg';
import type { CliArgs } from '../cli/args.js';
import { EXIT, StreamerError } from '../errors.js';
import { loadContext } from './context.js';
import { targetsOf, withPg } from './targets.js';

const OPEN_END = '9999-01-01 00:00:00+00';

/**
 * Waits until the slot confirmed everything the source had written when the
 * call began. A non-transactional logical message makes sure there is
 * something to confirm even when the source is idle.
 */
async function waitCaughtUp(url: string, slot: string, deadline: number): Promise<bigint> {
  return withPg(url, 'the source', async (c) => {
    const res = await c.query<{ lsn: string }>(
      "SELECT pg_logical_emit_message(false, 'kuvasz-cutover', now()::text)::text AS lsn",
    );
    const target = parseLsn(res.rows[0]?.lsn ?? '0/0');
    for (;;) {
      const r = await c.query<{ confirmed: string | null; active: boolean }>(
        'SELECT confirmed_flush_lsn::text AS confirmed, active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      const row = r.rows[0];
      if (!row)
        throw new StreamerError(
          'runtime',
          `slot ${slot} does not exist: is kuvasz-streamer run started for this configuration?`,
          { exitCode: EXIT.failed },
        );
      if (row.confirmed && parseLsn(row.confirmed) >= target) return target;
      if (Date.now() > deadline) {
        throw new StreamerError(
          'runtime',
          `slot ${slot} confirmed ${row.confirmed ?? 'nothing'} but the source is at ${formatLsn(target)}${row.active ? '' : ' and no streamer is connected (start kuvasz-streamer run)'}; not caught up in time`,
          { exitCode: EXIT.failed },
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  });
}

/** `cutover`: catch-up, sequences, row counts; exit 0 when every count matches. */
export async function cutoverCommand(
  args: CliArgs,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { cfg } = await loadContext(args, 'cutover');
  const deadline = Date.now() + (args.timeoutMs ?? 300_000);

  for (const s of cfg.sources) {
    const slot = kuvaszObjectName(s.database, s.sid);
    const lsn = await waitCaughtUp(s.url, slot, deadline);
    out.write(`${s.database} (sid ${s.sid}): caught up to ${formatLsn(lsn)}\n`);
  }

  let allMatch = true;
  await withPg(cfg.destination.url, 'the destination', async (dest) => {
    // Sequences: same schema and name on both sides; the highest value wins when several sources have one.
    const values = new Map<string, { value: string; called: boolean }>();
    for (const s of cfg.sources) {
      await withPg(s.url, 'the source', async (src) => {
        const res = await src.query<{
          schemaname: string;
          sequencename: string;
          last_value: string | null;
          start_value: string;
        }>(
          'SELECT schemaname, sequencename, last_value::text, start_value::text FROM pg_sequences',
        );
        for (const r of res.rows) {
          const key = `${pg.escapeIdentifier(r.schemaname)}.${pg.escapeIdentifier(r.sequencename)}`;
          const v =
            r.last_value === null
              ? { value: r.start_value, called: false }
              : { value: r.last_value, called: true };
          const prev = values.get(key);
          if (!prev || BigInt(v.value) > BigInt(prev.value)) values.set(key, v);
        }
      });
    }
    let copied = 0;
    for (const [seq, v] of values) {
      const exists = await dest.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [
        seq,
      ]);
      if (!exists.rows[0]?.r) continue;
      await dest.query('SELECT setval($1::regclass, $2::bigint, $3)', [seq, v.value, v.called]);
      copied++;
    }

    const rows: string[][] = [['table', 'source', 'destination', 'match']];
    for (const use of targetsOf(cfg)) {
      const desc = await describeTable(dest, use.target);
      const hasSid = desc?.columns.some((c) => c.name === 'sid') ?? false;
      let sourceCount = 0n;
      let destCount = 0n;
      for (const f of use.feeds) {
        sourceCount += await withPg(f.url, 'the source', async (src) => {
          const r = await src.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM ${pg.escapeIdentifier(f.source.schema)}.${pg.escapeIdentifier(f.source.table)}`,
          );
          return BigInt(r.rows[0]?.n ?? '0');
        });
      }
      const conds: string[] = [];
      const params: unknown[] = [];
      if (hasSid) {
        params.push(use.feeds.map((f) => f.sid));
        conds.push(`sid::text = ANY($${params.length})`);
      }
      if (use.type === 'history') conds.push(`kvsz_end = '${OPEN_END}' AND NOT kvsz_deleted`);
      const where = conds.length ? ` WHERE ${conds.join(' AND ')}` : '';
      const r = await dest.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM ${pg.escapeIdentifier(use.target.schema)}.${pg.escapeIdentifier(use.target.table)}${where}`,
        params,
      );
      destCount = BigInt(r.rows[0]?.n ?? '0');
      // An append table keeps rows its source deleted: more rows is expected.
      const match = use.type === 'append' ? destCount >= sourceCount : destCount === sourceCount;
      if (!match) allMatch = false;
      rows.push([
        displayName(use.target),
        sourceCount.toString(),
        destCount.toString(),
        match ? 'yes' : 'NO',
      ]);
    }
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
    for (const r of rows)
      out.write(
        `${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}\n`,
      );
    out.write(`sequences copied: ${copied}\n`);
  });
  out.write(
    allMatch
      ? 'cutover check passed: every table matches\n'
      : 'cutover check FAILED: some tables differ (see above)\n',
  );
  return allMatch ? EXIT.ok : EXIT.failed;
}

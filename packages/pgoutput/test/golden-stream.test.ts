/**
 * Streamed (protocol v2 / v4) and two-phase (v3) golden fixtures: see the
 * `stream` and `two-phase` scenarios in capture/scenarios.ts.
 */
import { describe, expect, test } from 'vitest';
import { PgoutputDecoder, type PgoutputMessage, pgTimestampToDate } from '../src/index.js';
import { as, type DecodedChange, decodeFixture, fixturesOf } from './support/decode-fixture.js';

const byFile = <T extends { file: string }>(list: T[]) => list.map((f) => [f.file, f] as const);

/** Splits at each stream_commit / stream_abort / stream_prepare / commit_prepared ... end. */
function segments(changes: DecodedChange[], ends: PgoutputMessage['tag'][]): DecodedChange[][] {
  const out: DecodedChange[][] = [];
  let cur: DecodedChange[] = [];
  for (const c of changes) {
    cur.push(c);
    if (ends.includes(c.msg.tag)) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function insertedIds(seg: DecodedChange[]): number[] {
  return seg.filter((c) => c.msg.tag === 'insert').map((c) => Number(as(c.msg, 'insert').new[0]));
}

const range = (from: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => from + i);

describe.each(byFile(fixturesOf('stream')))('streamed transactions %s', (_file, fx) => {
  const changes = decodeFixture(fx);
  const oid = fx.relations['public.big_t'];
  const [committed, aborted, subAborted, resumed] = segments(changes, [
    'stream_commit',
    'stream_abort',
  ]);

  test('the decoder leaves every stream block it enters', () => {
    const d = new PgoutputDecoder({ protoVersion: fx.protoVersion });
    let depth = 0;
    for (const p of fx.payloads) {
      const m = d.decode(p);
      if (m.tag === 'stream_start') depth++;
      if (m.tag === 'stream_stop') depth--;
      expect(d.inStreamBlock).toBe(depth === 1);
    }
    expect(d.inStreamBlock).toBe(false);
  });

  test('a committed transaction larger than logical_decoding_work_mem arrives in segments', () => {
    const starts = committed!
      .filter((c) => c.msg.tag === 'stream_start')
      .map((c) => as(c.msg, 'stream_start'));
    expect(starts.length).toBeGreaterThan(1);
    const xid = starts[0]!.xid;
    expect(starts.map((s) => [s.xid, s.firstSegment])).toEqual(
      starts.map((_, i) => [xid, i === 0]),
    );
    expect(xid).toBe(committed![0]!.peekXid);
    // Every change inside the blocks carries the streamed transaction's xid.
    for (const c of committed!) {
      if (c.msg.tag === 'insert' || c.msg.tag === 'relation') expect(c.msg.xid).toBe(xid);
    }
    const rel = as(committed!.find((c) => c.msg.tag === 'relation')?.msg, 'relation');
    expect(rel).toMatchObject({ relationOid: oid, name: 'big_t' });
    expect(insertedIds(committed!)).toEqual(range(1, 700));
    const first = committed!.find((c) => c.msg.tag === 'insert');
    expect(as(first?.msg, 'insert').new).toEqual(['1', 's']);
    const end = committed![committed!.length - 1]!;
    const commit = as(end.msg, 'stream_commit');
    expect(commit.xid).toBe(xid);
    expect(commit.flags).toBe(0);
    expect(commit.endLsn).toBe(end.peekLsn);
    expect(commit.commitLsn < commit.endLsn).toBe(true);
    expect(pgTimestampToDate(commit.commitTime).getTime()).toBeGreaterThan(Date.UTC(2024, 0, 1));
  });

  test('an aborted streamed transaction ends in Stream Abort of the whole transaction', () => {
    const start = as(aborted![0]?.msg, 'stream_start');
    expect(start.firstSegment).toBe(true);
    const ids = insertedIds(aborted!);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(range(1001, ids.length));
    const abort = as(aborted![aborted!.length - 1]?.msg, 'stream_abort');
    expect(abort.xid).toBe(start.xid);
    expect(abort.subXid).toBe(start.xid);
    if (fx.protoVersion >= 4) {
      // streaming = parallel: the abort LSN and time are sent; the abort record is the peek position.
      expect(abort.abortLsn).toBe(aborted![aborted!.length - 1]!.peekLsn);
      expect(pgTimestampToDate(abort.abortTime!).getTime()).toBeGreaterThan(Date.UTC(2024, 0, 1));
    } else {
      expect(abort.abortLsn).toBe(undefined);
      expect(abort.abortTime).toBe(undefined);
    }
  });

  test('an aborted subtransaction is a Stream Abort of its own xid; the rest commits', () => {
    const start = as(subAborted![0]?.msg, 'stream_start');
    const xid = start.xid;
    const abort = as(subAborted![subAborted!.length - 1]?.msg, 'stream_abort');
    expect(abort.xid).toBe(xid);
    expect(abort.subXid).not.toBe(xid);
    const inserts = subAborted!
      .filter((c) => c.msg.tag === 'insert')
      .map((c) => as(c.msg, 'insert'));
    // Rows of the top transaction carry its xid, rows of the savepoint the subtransaction's.
    expect(inserts.filter((i) => i.xid === xid).map((i) => Number(i.new[0]))).toEqual(
      range(2001, 300),
    );
    const sub = inserts.filter((i) => i.xid === abort.subXid).map((i) => Number(i.new[0]));
    expect(sub.length).toBeGreaterThan(0);
    expect(sub).toEqual(range(3001, sub.length));
    expect(inserts.length).toBe(300 + sub.length);
    if (fx.protoVersion >= 4) expect(abort.abortLsn! > 0n).toBe(true);
    else expect(abort.abortLsn).toBe(undefined);

    expect(resumed!.map((c) => c.msg.tag)).toEqual([
      'stream_start',
      'relation',
      'insert',
      'stream_stop',
      'stream_commit',
    ]);
    expect(as(resumed![0]?.msg, 'stream_start')).toEqual({
      tag: 'stream_start',
      xid,
      firstSegment: false,
    });
    // ROLLBACK TO SAVEPOINT starts the savepoint's subtransaction again, with a new xid.
    const after = as(resumed![2]?.msg, 'insert');
    expect(after).toMatchObject({ relationOid: oid, new: ['4000', 'after'] });
    expect(after.xid! > abort.subXid).toBe(true);
    expect(as(resumed![4]?.msg, 'stream_commit').xid).toBe(xid);
  });
});

describe.each(byFile(fixturesOf('two-phase')))('two-phase commit %s', (_file, fx) => {
  const changes = decodeFixture(fx);
  const [first, second, third] = segments(changes, ['commit_prepared', 'rollback_prepared']);

  test('PREPARE TRANSACTION then COMMIT PREPARED', () => {
    expect(first!.map((c) => c.msg.tag)).toEqual([
      'begin_prepare',
      'relation',
      'insert',
      'prepare',
      'commit_prepared',
    ]);
    const bp = as(first![0]?.msg, 'begin_prepare');
    const p = as(first![3]?.msg, 'prepare');
    const cp = as(first![4]?.msg, 'commit_prepared');
    expect(bp.gid).toBe('kuvasz-gid-1');
    expect(bp.xid).toBe(first![0]!.peekXid);
    expect(as(first![2]?.msg, 'insert').new).toEqual(['1', 'a']);
    expect(p).toMatchObject({
      flags: 0,
      gid: 'kuvasz-gid-1',
      xid: bp.xid,
      prepareLsn: bp.prepareLsn,
      endLsn: bp.endLsn,
      prepareTime: bp.prepareTime,
    });
    expect(p.endLsn).toBe(first![3]!.peekLsn);
    expect(cp).toMatchObject({ flags: 0, gid: 'kuvasz-gid-1', xid: bp.xid });
    // COMMIT PREPARED's record comes after the PREPARE record (here right at its end).
    expect(cp.commitLsn >= p.endLsn).toBe(true);
    expect(cp.endLsn).toBe(first![4]!.peekLsn);
    expect(cp.commitTime >= p.prepareTime).toBe(true);
  });

  test('PREPARE TRANSACTION then ROLLBACK PREPARED', () => {
    expect(second!.map((c) => c.msg.tag)).toEqual([
      'begin_prepare',
      'insert',
      'prepare',
      'rollback_prepared',
    ]);
    const p = as(second![2]?.msg, 'prepare');
    const rp = as(second![3]?.msg, 'rollback_prepared');
    expect(p.gid).toBe('kuvasz-gid-2');
    expect(rp).toMatchObject({
      flags: 0,
      gid: 'kuvasz-gid-2',
      xid: p.xid,
      prepareEndLsn: p.endLsn,
      prepareTime: p.prepareTime,
    });
    expect(rp.rollbackEndLsn).toBe(second![3]!.peekLsn);
    expect(rp.rollbackTime >= rp.prepareTime).toBe(true);
  });

  test('a streamed transaction that is prepared ends in Stream Prepare', () => {
    const tagsOf = third!.map((c) => c.msg.tag);
    expect(tagsOf[0]).toBe('stream_start');
    expect(tagsOf.slice(-3)).toEqual(['stream_stop', 'stream_prepare', 'commit_prepared']);
    const xid = as(third![0]?.msg, 'stream_start').xid;
    expect(insertedIds(third!)).toEqual(range(100, 700));
    const sp = as(third![third!.length - 2]?.msg, 'stream_prepare');
    expect(sp).toMatchObject({ flags: 0, gid: 'kuvasz-gid-3', xid });
    expect(sp.endLsn).toBe(third![third!.length - 2]!.peekLsn);
    expect(sp.prepareLsn < sp.endLsn).toBe(true);
    const cp = as(third![third!.length - 1]?.msg, 'commit_prepared');
    expect(cp).toMatchObject({ gid: 'kuvasz-gid-3', xid });
  });
});

import { PgoutputDecoder, type PgoutputMessage, parseLsn } from '../../src/index.js';
import { type LoadedFixture, loadFixtures } from './fixtures.js';

export interface DecodedChange {
  msg: PgoutputMessage;
  /** `lsn` and `xid` columns of the peek. */
  peekLsn: bigint;
  peekXid: number;
}

export function decodeFixture(fx: LoadedFixture): DecodedChange[] {
  const decoder = new PgoutputDecoder({ protoVersion: fx.protoVersion });
  return fx.payloads.map((p, i) => ({
    msg: decoder.decode(p),
    peekLsn: parseLsn(fx.changes[i]!.lsn),
    peekXid: Number(fx.changes[i]!.xid),
  }));
}

/** Fixtures of one scenario (one per server major / protocol version). */
export function fixturesOf(scenario: string): LoadedFixture[] {
  const found = loadFixtures().filter((f) => f.scenario === scenario);
  if (found.length === 0) throw new Error(`no fixtures for scenario ${scenario}`);
  return found;
}

/** Narrows a message to one tag, failing the test on anything else. */
export function as<T extends PgoutputMessage['tag']>(
  msg: PgoutputMessage | undefined,
  tag: T,
): Extract<PgoutputMessage, { tag: T }> {
  if (msg?.tag !== tag) throw new Error(`expected a ${tag} message, got ${msg?.tag}`);
  return msg as Extract<PgoutputMessage, { tag: T }>;
}

/** Splits a v1 message list into transactions: [begin, ...body, commit]. */
export function transactions(changes: DecodedChange[]): DecodedChange[][] {
  const out: DecodedChange[][] = [];
  let cur: DecodedChange[] | undefined;
  for (const c of changes) {
    if (c.msg.tag === 'begin') cur = [];
    if (cur) cur.push(c);
    if (c.msg.tag === 'commit' && cur) {
      out.push(cur);
      cur = undefined;
    }
  }
  return out;
}

export const tags = (changes: DecodedChange[]): string[] => changes.map((c) => c.msg.tag);

import { describe, expect, test } from 'vitest';
import { type ChangeTuple, WIRE_NULL, type WireTuple } from '../change.js';
import { fakeRelation, fakeTarget } from '../testing/fake-target.js';
import { copyRows } from './copy-rows.js';
import { collapseHistory, type RowItem, WireItem } from './plan-units.js';
import { resolveShape } from './shape.js';
import { probeVersions } from './statements.js';

/** A wire tuple of text values (null: NULL), as the stream's arena lays them out. */
function wireOf(values: (string | null)[]): WireTuple {
  const bytes = Buffer.from(values.map((v) => v ?? '').join(''));
  const offsets = new Int32Array(2 * values.length);
  let pos = 0;
  values.forEach((v, i) => {
    const len = v === null ? 0 : Buffer.byteLength(v);
    offsets[2 * i] = v === null ? WIRE_NULL : pos;
    offsets[2 * i + 1] = len;
    pos += len;
  });
  return { bytes, offsets, at: 0, count: values.length };
}

const shape = resolveShape(
  fakeRelation([
    ['id', 23, true],
    ['note', 25, false],
  ]),
  fakeTarget('history', [
    ['id', 'integer'],
    ['note', 'text'],
  ]),
);
const TIME = '2024-01-01 00:00:00+00';

const wireInsert = (values: (string | null)[], ref: string) =>
  new WireItem<string>('insert', shape, wireOf(values), undefined, 1n, TIME, false, ref);
const plain = (op: 'insert' | 'delete', values: ChangeTuple, ref: string): RowItem<string> => ({
  op,
  shape,
  newT: op === 'insert' ? values : undefined,
  whereT: op === 'delete' ? values : undefined,
  tx: 1n,
  time: TIME,
  quiet: false,
  ref,
});

/** A wire item whose values must not be decoded: the bytes path never reads `newT`. */
class BytesOnly<R> extends WireItem<R> {
  override get newT(): ChangeTuple | undefined {
    throw new Error('decoded a row that should have stayed bytes');
  }
}

describe('history inserts that arrived as bytes', () => {
  test('a lone insert keeps its bytes through collapsing, the probe and the COPY, never decoded', () => {
    const items = [
      new BytesOnly('insert', shape, wireOf(['7', 'tab\there']), undefined, 1n, TIME, false, 'a'),
      new BytesOnly('insert', shape, wireOf(['8', null]), undefined, 1n, TIME, false, 'b'),
    ];
    const ops = collapseHistory(
      items.map((item, seq) => ({ item, seq })),
      [],
    );
    expect(ops.map((o) => o.wire !== undefined)).toEqual([true, true]);
    // The probe of earlier versions reads the key column alone.
    expect(probeVersions(shape, '3', ops).values).toEqual(['3', '{"7","8"}']);
    const fromBytes = copyRows(shape, '3', ops, true);
    expect(Buffer.concat(fromBytes.chunks).toString()).toBe(
      `3\t7\ttab\\there\t${TIME}\t9999-01-01 00:00:00+00\tf\n3\t8\t\\N\t${TIME}\t9999-01-01 00:00:00+00\tf\n`,
    );
  });

  test('an insert revived after a delete in the same transaction is one decoded operation', () => {
    const items = [
      plain('insert', ['7', 'first'], 'a'),
      plain('delete', ['7', null], 'b'),
      wireInsert(['7', 'again'], 'c'),
    ];
    const ops = collapseHistory(
      items.map((item, seq) => ({ item, seq })),
      [],
    );
    expect(ops).toHaveLength(1);
    expect(ops[0]!.wire).toBeUndefined();
    expect(ops[0]!.newT).toEqual(['7', 'again']);
    expect(ops[0]!.refs).toEqual(['a', 'b', 'c']);
  });
});

import fc from 'fast-check';
import { type PgoutputMessage, type TupleValue, UNCHANGED_TOAST } from '../../src/index.js';
import { type Bytes, bytes, TOAST } from './frame-builder.js';

/** A valid pgoutput message: its bytes (from the test builder) and the value it must decode to. */
export interface BuiltMessage {
  protoVersion: 1 | 2 | 3 | 4;
  inStream: boolean;
  data: Uint8Array;
  expected: PgoutputMessage;
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const i32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
const u8 = fc.integer({ min: 0, max: 255 });
const u64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
const i64 = fc.bigInt({ min: -0x8000_0000_0000_0000n, max: 0x7fff_ffff_ffff_ffffn });
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 12 }));
const name = text.map((s) => s.replaceAll('\0', ''));
const blob = fc.uint8Array({ maxLength: 40 });
const column: fc.Arbitrary<TupleValue> = fc.oneof(
  fc.constant(null),
  fc.constant(UNCHANGED_TOAST),
  text,
  blob,
);
const tuple = fc.array(column, { maxLength: 12 });

function writeTuple(b: Bytes, t: TupleValue[]): Bytes {
  return b.tuple(t.map((v) => (v === UNCHANGED_TOAST ? TOAST : v)));
}

const context = fc.record({
  protoVersion: fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const),
  inStream: fc.boolean(),
});

type Ctx = { protoVersion: 1 | 2 | 3 | 4; inStream: boolean };
const xidOf = (ctx: Ctx, xid: number): number | undefined => (ctx.inStream ? xid : undefined);
const prefix = (ctx: Ctx, b: Bytes, xid: number): Bytes => (ctx.inStream ? b.uint32(xid) : b);

/** Messages of every kind, valid for the context they are generated with. */
export const builtMessage: fc.Arbitrary<BuiltMessage> = context
  .map((c) => ({ ...c, inStream: c.inStream && c.protoVersion >= 2 }))
  .chain((ctx) => {
    const done = (b: Bytes, expected: PgoutputMessage): BuiltMessage => ({
      ...ctx,
      data: b.build(),
      expected,
    });
    const dml = [
      fc.tuple(u32, u32, tuple).map(([xid, oid, t]) =>
        done(writeTuple(prefix(ctx, bytes().byte('I'), xid).uint32(oid).byte('N'), t), {
          tag: 'insert',
          xid: xidOf(ctx, xid),
          relationOid: oid,
          new: t,
        }),
      ),
      fc
        .tuple(u32, u32, fc.constantFrom('K', 'O', 'N'), tuple, tuple)
        .map(([xid, oid, kind, a, n]) => {
          let b = prefix(ctx, bytes().byte('U'), xid).uint32(oid);
          if (kind !== 'N') b = writeTuple(b.byte(kind), a);
          return done(writeTuple(b.byte('N'), n), {
            tag: 'update',
            xid: xidOf(ctx, xid),
            relationOid: oid,
            key: kind === 'K' ? a : undefined,
            old: kind === 'O' ? a : undefined,
            new: n,
          });
        }),
      fc.tuple(u32, u32, fc.constantFrom('K', 'O'), tuple).map(([xid, oid, kind, a]) =>
        done(writeTuple(prefix(ctx, bytes().byte('D'), xid).uint32(oid).byte(kind), a), {
          tag: 'delete',
          xid: xidOf(ctx, xid),
          relationOid: oid,
          key: kind === 'K' ? a : undefined,
          old: kind === 'O' ? a : undefined,
        }),
      ),
      fc.tuple(u32, u8, fc.array(u32, { maxLength: 8 })).map(([xid, options, oids]) => {
        const b = prefix(ctx, bytes().byte('T'), xid).uint32(oids.length).byte(options);
        for (const o of oids) b.uint32(o);
        return done(b, {
          tag: 'truncate',
          xid: xidOf(ctx, xid),
          cascade: (options & 1) !== 0,
          restartIdentity: (options & 2) !== 0,
          relationOids: oids,
        });
      }),
      fc
        .tuple(
          u32,
          u32,
          name,
          name,
          fc.constantFrom(['d', 'default'], ['n', 'nothing'], ['f', 'full'], ['i', 'index']),
          fc.array(fc.tuple(u8, name, u32, i32), { maxLength: 8 }),
        )
        .map(([xid, oid, schema, rel, [ri, identity], cols]) => {
          const b = prefix(ctx, bytes().byte('R'), xid)
            .uint32(oid)
            .cstring(schema)
            .cstring(rel)
            .byte(ri!);
          b.int16(cols.length);
          for (const [flags, n, t, m] of cols) b.byte(flags).cstring(n).uint32(t).int32(m);
          return done(b, {
            tag: 'relation',
            xid: xidOf(ctx, xid),
            relationOid: oid,
            schema,
            name: rel,
            replicaIdentity: identity as 'default',
            columns: cols.map(([flags, n, t, m]) => ({
              flags,
              isKey: (flags & 1) !== 0,
              name: n,
              typeOid: t,
              typeMod: m,
            })),
          });
        }),
      fc.tuple(u32, u32, name, name).map(([xid, oid, schema, n]) =>
        done(prefix(ctx, bytes().byte('Y'), xid).uint32(oid).cstring(schema).cstring(n), {
          tag: 'type',
          xid: xidOf(ctx, xid),
          typeOid: oid,
          schema,
          name: n,
        }),
      ),
      fc.tuple(u32, u8, u64, name, blob).map(([xid, flags, lsn, p, content]) =>
        done(
          prefix(ctx, bytes().byte('M'), xid)
            .byte(flags)
            .uint64(lsn)
            .cstring(p)
            .int32(content.length)
            .raw(content),
          {
            tag: 'message',
            xid: xidOf(ctx, xid),
            transactional: (flags & 1) !== 0,
            lsn,
            prefix: p,
            content,
          },
        ),
      ),
    ];
    const txn = [
      fc.tuple(u64, i64, u32).map(([lsn, t, xid]) =>
        done(bytes().byte('B').uint64(lsn).int64(t).uint32(xid), {
          tag: 'begin',
          finalLsn: lsn,
          commitTime: t,
          xid,
        }),
      ),
      fc.tuple(u8, u64, u64, i64).map(([f, a, b, t]) =>
        done(bytes().byte('C').byte(f).uint64(a).uint64(b).int64(t), {
          tag: 'commit',
          flags: f,
          commitLsn: a,
          endLsn: b,
          commitTime: t,
        }),
      ),
      fc.tuple(u64, name).map(([lsn, n]) =>
        done(bytes().byte('O').uint64(lsn).cstring(n), {
          tag: 'origin',
          originLsn: lsn,
          name: n,
        }),
      ),
    ];
    const stream =
      ctx.protoVersion < 2
        ? []
        : ctx.inStream
          ? [fc.constant(done(bytes().byte('E'), { tag: 'stream_stop' }))]
          : [
              fc.tuple(u32, fc.boolean()).map(([xid, first]) =>
                done(
                  bytes()
                    .byte('S')
                    .uint32(xid)
                    .byte(first ? 1 : 0),
                  {
                    tag: 'stream_start',
                    xid,
                    firstSegment: first,
                  },
                ),
              ),
              fc.tuple(u32, u8, u64, u64, i64).map(([xid, f, a, b, t]) =>
                done(bytes().byte('c').uint32(xid).byte(f).uint64(a).uint64(b).int64(t), {
                  tag: 'stream_commit',
                  xid,
                  flags: f,
                  commitLsn: a,
                  endLsn: b,
                  commitTime: t,
                }),
              ),
              fc.tuple(u32, u32, fc.option(fc.tuple(u64, i64))).map(([xid, sub, extra]) => {
                const withExtra = extra !== null && ctx.protoVersion >= 4;
                const b = bytes().byte('A').uint32(xid).uint32(sub);
                if (withExtra) b.uint64(extra[0]).int64(extra[1]);
                return done(b, {
                  tag: 'stream_abort',
                  xid,
                  subXid: sub,
                  abortLsn: withExtra ? extra[0] : undefined,
                  abortTime: withExtra ? extra[1] : undefined,
                });
              }),
            ];
    const gidMsg = (letter: string, tag: 'prepare' | 'commit_prepared' | 'stream_prepare') =>
      fc.tuple(u8, u64, u64, i64, u32, name).map(([f, a, b, t, xid, gid]) => {
        const bytesOut = bytes()
          .byte(letter)
          .byte(f)
          .uint64(a)
          .uint64(b)
          .int64(t)
          .uint32(xid)
          .cstring(gid);
        const expected =
          tag === 'commit_prepared'
            ? { tag, flags: f, commitLsn: a, endLsn: b, commitTime: t, xid, gid }
            : { tag, flags: f, prepareLsn: a, endLsn: b, prepareTime: t, xid, gid };
        return done(bytesOut, expected);
      });
    const twoPhase =
      ctx.protoVersion < 3 || ctx.inStream
        ? []
        : [
            fc.tuple(u64, u64, i64, u32, name).map(([a, b, t, xid, gid]) =>
              done(bytes().byte('b').uint64(a).uint64(b).int64(t).uint32(xid).cstring(gid), {
                tag: 'begin_prepare',
                prepareLsn: a,
                endLsn: b,
                prepareTime: t,
                xid,
                gid,
              }),
            ),
            gidMsg('P', 'prepare'),
            gidMsg('K', 'commit_prepared'),
            gidMsg('p', 'stream_prepare'),
            fc.tuple(u8, u64, u64, i64, i64, u32, name).map(([f, a, b, t1, t2, xid, gid]) =>
              done(
                bytes()
                  .byte('r')
                  .byte(f)
                  .uint64(a)
                  .uint64(b)
                  .int64(t1)
                  .int64(t2)
                  .uint32(xid)
                  .cstring(gid),
                {
                  tag: 'rollback_prepared',
                  flags: f,
                  prepareEndLsn: a,
                  rollbackEndLsn: b,
                  prepareTime: t1,
                  rollbackTime: t2,
                  xid,
                  gid,
                },
              ),
            ),
          ];
    return fc.oneof(...dml, ...(ctx.inStream ? [] : txn), ...stream, ...twoPhase);
  });

/** Byte-level damage: cut, flip, overwrite (incl. a length word), insert, append. */
export type Mutation =
  | { kind: 'cut'; at: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'word'; at: number; value: number }
  | { kind: 'insert'; at: number; values: Uint8Array }
  | { kind: 'append'; values: Uint8Array };

const at = fc.nat({ max: 1 << 16 });
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at }),
  fc.record({ kind: fc.constant('set' as const), at, value: u8 }),
  fc.record({
    kind: fc.constant('word' as const),
    at,
    value: fc.oneof(u32, fc.constantFrom(0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff)),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at,
    values: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant('append' as const),
    values: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
);

export function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Buffer.from(input);
  for (const m of mutations) {
    const pos = b.length === 0 ? 0 : ('at' in m ? m.at : 0) % (b.length + 1);
    if (m.kind === 'cut') b = b.subarray(0, pos);
    else if (m.kind === 'set' && pos < b.length) b[pos] = m.value;
    else if (m.kind === 'word' && pos + 4 <= b.length) b.writeUInt32BE(m.value, pos);
    else if (m.kind === 'insert')
      b = Buffer.concat([b.subarray(0, pos), m.values, b.subarray(pos)]);
    else if (m.kind === 'append') b = Buffer.concat([b, m.values]);
  }
  return new Uint8Array(b);
}

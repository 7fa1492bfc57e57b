// Decoding throughput of @kuvasz/pgoutput against pg-logical-replication's
// PgoutputPlugin parser on the same frames. Run: pnpm --filter @kuvasz/pgoutput bench
// (builds dist/ first). BENCH_SECONDS sets the time per round (default 1.5).
//
// The frames match what pgoutput (protocol v1, text mode) sends for an
// 8-column table: id int4, account int8, name text, email text, created
// timestamptz, amount numeric(12,2), status text, updated timestamptz.
// Half are Inserts, half Updates (no key change: 'N' tuple only).
import { createRequire } from 'node:module';
import os from 'node:os';
import {
  defaultTypeParsers,
  PgoutputDecoder,
  parseReplicationFrame,
  RelationCache,
} from '../dist/index.js';

const require = createRequire(import.meta.url);
const { PgoutputPlugin } = require('pg-logical-replication');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REL_OID = 16_385;
const COLUMNS = [
  ['id', 23],
  ['account', 20],
  ['name', 25],
  ['email', 25],
  ['created', 1184],
  ['amount', 1700],
  ['status', 25],
  ['updated', 1184],
];

// Independent little writer (plain Buffer writes), as in the tests.
function message(parts) {
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}
const u8 = (v) => Buffer.from([v]);
const u16 = (v) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const cstr = (s) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
const tuple = (values) =>
  message([
    u16(values.length),
    ...values.flatMap((v) => {
      const b = Buffer.from(v, 'utf8');
      return [u8(0x74), u32(b.length), b];
    }),
  ]);
const xlog = (payload, lsn) => {
  const h = Buffer.alloc(25);
  h[0] = 0x77;
  h.writeBigUInt64BE(lsn, 1);
  h.writeBigUInt64BE(lsn + 64n, 9);
  h.writeBigInt64BE(848_000_000_000_000n, 17);
  return Buffer.concat([h, payload]);
};

const relation = message([
  u8(0x52),
  u32(REL_OID),
  cstr('public'),
  cstr('accounts'),
  u8(0x64),
  u16(COLUMNS.length),
  ...COLUMNS.flatMap(([name, oid], i) => [
    u8(i === 0 ? 1 : 0),
    cstr(name),
    u32(oid),
    u32(0xffffffff),
  ]),
]);

const NAMES = ['Ada Lovelace', 'Grace Hopper', 'Edsger Dijkstra', 'Barbara Liskov', 'Donald Knuth'];
function row(i) {
  const name = NAMES[i % NAMES.length];
  const ts = new Date(Date.UTC(2026, 10, 22, 10, 0, 0) + i * 1_037).toISOString();
  const pgTs = `${ts.slice(0, 10)} ${ts.slice(11, 23)}${String(i % 1000).padStart(3, '0')}+00`;
  return [
    String(100_000 + i),
    String(9_000_000_000 + i * 7),
    `${name} ${i}`,
    `${name.split(' ')[0].toLowerCase()}.${i}@example.com`,
    pgTs,
    `${(i * 37) % 100000}.${String(i % 100).padStart(2, '0')}`,
    i % 3 === 0 ? 'active' : 'pending',
    pgTs,
  ];
}

const N = 20_000;
const frames = [];
let payloadBytes = 0;
for (let i = 0; i < N; i++) {
  const values = row(i);
  const payload =
    i % 2 === 0
      ? message([u8(0x49), u32(REL_OID), u8(0x4e), tuple(values)])
      : message([u8(0x55), u32(REL_OID), u8(0x4e), tuple(values)]);
  payloadBytes += payload.length;
  frames.push(xlog(payload, 0x16_b374d848n + BigInt(i) * 64n));
}
const avgPayload = payloadBytes / N;

/** Runs `run` over every frame for about SECONDS; messages per second. */
function round(run) {
  let count = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  const t0 = process.hrtime.bigint();
  while (process.hrtime.bigint() < deadline) {
    run(frames);
    count += frames.length;
  }
  return count / (Number(process.hrtime.bigint() - t0) / 1e9);
}

let sink = 0;
const cases = [
  [
    '@kuvasz/pgoutput decode (raw text values)',
    () => {
      const d = new PgoutputDecoder({ protoVersion: 1 });
      d.decode(relation);
      return (list) => {
        for (let i = 0; i < list.length; i++) {
          const m = d.decode(list[i].subarray(25));
          sink += m.tag.length;
        }
      };
    },
  ],
  [
    '@kuvasz/pgoutput frame + decode',
    () => {
      const d = new PgoutputDecoder({ protoVersion: 1 });
      d.decode(relation);
      return (list) => {
        for (let i = 0; i < list.length; i++) {
          const f = parseReplicationFrame(list[i]);
          if (f.tag === 'xlogdata') sink += d.decode(f.data).tag.length;
        }
      };
    },
  ],
  [
    '@kuvasz/pgoutput decode + toRecord(defaultTypeParsers)',
    () => {
      const d = new PgoutputDecoder({ protoVersion: 1 });
      const cache = new RelationCache();
      const rel = d.decode(relation);
      cache.set(rel);
      return (list) => {
        for (let i = 0; i < list.length; i++) {
          const m = d.decode(list[i].subarray(25));
          if (m.tag === 'insert' || m.tag === 'update') {
            const rec = cache.toRecord(cache.require(m.relationOid), m.new, defaultTypeParsers);
            sink += rec.id;
          }
        }
      };
    },
  ],
  [
    'pg-logical-replication 2.5.0 PgoutputPlugin.parse',
    () => {
      const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ['p'] });
      plugin.parse(relation);
      // Exactly what its LogicalReplicationService does with an XLogData chunk.
      return (list) => {
        for (let i = 0; i < list.length; i++) sink += plugin.parse(list[i].subarray(25)).tag.length;
      };
    },
  ],
];

console.log(
  `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  `${N} frames (Insert/Update of an 8-column row), ${avgPayload.toFixed(1)} bytes per pgoutput message, best of ${ROUNDS} x ${SECONDS}s rounds`,
);
// Rounds interleave the parsers, so load from other processes on this shared
// machine hits all of them alike; each parser's best round is reported.
const only = process.env.BENCH_ONLY;
if (only)
  cases.splice(
    0,
    cases.length,
    ...cases.filter(([n]) => only.split(',').some((o) => n.includes(o))),
  );
const runs = cases.map(([, setup]) => setup());
for (const run of runs) for (let i = 0; i < 3; i++) run(frames); // JIT warm-up
const best = runs.map(() => 0);
for (let r = 0; r < ROUNDS; r++) {
  runs.forEach((run, i) => {
    best[i] = Math.max(best[i], round(run));
  });
}
const results = cases.map(([name], i) => ({
  name,
  perSec: best[i],
  mbPerSec: (best[i] * avgPayload) / 1e6,
}));
const baseline = results[results.length - 1];
for (const r of results) {
  console.log(
    `${r.name.padEnd(56)} ${Math.round(r.perSec).toLocaleString('en-US').padStart(11)} msg/s ${r.mbPerSec
      .toFixed(1)
      .padStart(7)} MB/s  ${(r.perSec / baseline.perSec).toFixed(2)}x`,
  );
}
if (sink === 0) console.log('(sink)');

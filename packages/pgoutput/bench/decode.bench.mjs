// Decoding throughput of @kuvasz/pgoutput (object decoder and lazy
// MessageView) against pg-logical-replication's PgoutputPlugin parser on the
// same frames. Run: pnpm --filter @kuvasz/pgoutput bench (builds dist/
// first); the README's figures come from `taskset -c 1` (one core).
// Rates are messages per CPU second of this process.
// BENCH_SECONDS sets the time per round (default 1), BENCH_ROUNDS the rounds
// (default 5), BENCH_ONLY a comma-separated filter on the case names.
//
// The frames match what pgoutput (protocol v1, text mode) sends for an
// 8-column table: id int4, account int8, name text, email text, created
// timestamptz, amount numeric(12,2), status text, updated timestamptz. Two
// workloads: Inserts, and Updates that change the key (a 'K' tuple with the
// old id and NULL elsewhere, as REPLICA IDENTITY DEFAULT sends it, then 'N').
import { createRequire } from 'node:module';
import os from 'node:os';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import {
  CopyBuffer,
  defaultTypeParsers,
  MessageTag,
  MessageView,
  PgoutputDecoder,
  parseReplicationFrame,
  RelationCache,
  writeCopyRow,
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
      if (v === null) return [u8(0x6e)];
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
const NULLS = COLUMNS.slice(1).map(() => null);
const workloads = [
  ['Insert', (v) => message([u8(0x49), u32(REL_OID), u8(0x4e), tuple(v)])],
  [
    "Update, old key 'K'",
    (v, i) =>
      message([u8(0x55), u32(REL_OID), u8(0x4b), tuple([String(i), ...NULLS]), u8(0x4e), tuple(v)]),
  ],
].map(([name, build]) => {
  const frames = [];
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const payload = build(row(i), i);
    bytes += payload.length;
    frames.push(xlog(payload, 0x16_b374d848n + BigInt(i) * 64n));
  }
  return { name, frames, avgPayload: bytes / N };
});

/** CPU seconds used by this process so far (all its threads). */
function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Runs `run` over every frame for about SECONDS: the messages and the CPU seconds.
 * CPU time rather than wall time: on a shared machine the process is
 * descheduled at times, which wall time would count against the parser.
 */
function round(run, frames) {
  let count = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  const c0 = cpuSeconds();
  while (process.hrtime.bigint() < deadline) {
    run(frames);
    count += frames.length;
  }
  return { count, cpu: cpuSeconds() - c0 };
}

// Results are folded into a small integer: a sum that outgrew V8's small
// integers would allocate a heap number per message and count as the
// parser's garbage.
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
          sink = (sink + m.tag.length) | 0;
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
          if (f.tag === 'xlogdata') sink = (sink + d.decode(f.data).tag.length) | 0;
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
            sink = (sink + rec.id) | 0;
          }
        }
      };
    },
  ],
  [
    'lazy: MessageView.resetFrame (frame + decode)',
    () => {
      const v = new MessageView({ protoVersion: 1 });
      return (list) => {
        for (let i = 0; i < list.length; i++) {
          if (v.resetFrame(list[i]) === MessageTag.Insert) sink = (sink + v.newTuple.count) | 0;
          else sink = (sink + v.oldMarker) | 0;
        }
      };
    },
  ],
  [
    'lazy: resetFrame + text(key) + hashColumn(key)',
    () => {
      const v = new MessageView({ protoVersion: 1 });
      return (list) => {
        for (let i = 0; i < list.length; i++) {
          v.resetFrame(list[i]);
          sink = (sink + v.newTuple.text(0).length + (v.newTuple.hashColumn(0) & 0xff)) | 0;
        }
      };
    },
  ],
  [
    'lazy: resetFrame + COPY row written (8 columns)',
    () => {
      const v = new MessageView({ protoVersion: 1 });
      const out = new CopyBuffer();
      return (list) => {
        for (let i = 0; i < list.length; i++) {
          v.resetFrame(list[i]);
          writeCopyRow(out, v.newTuple);
          // A COPY chunk's worth is handed on (here: dropped) and the buffer reused.
          if (out.length >= 65_536) {
            sink = (sink + out.length) | 0;
            out.clear();
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
        for (let i = 0; i < list.length; i++)
          sink = (sink + plugin.parse(list[i].subarray(25)).tag.length) | 0;
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
  `${N} frames per workload (8-column row): ${workloads
    .map((w) => `${w.name} ${w.avgPayload.toFixed(1)} bytes`)
    .join(', ')} per pgoutput message; best of ${ROUNDS} x ${SECONDS}s rounds`,
);
const only = process.env.BENCH_ONLY;
if (only)
  cases.splice(
    0,
    cases.length,
    ...cases.filter(([n]) => only.split(',').some((o) => n.includes(o))),
  );

// Minor GCs (scavenges) while each case runs: none means the case allocates
// (next to) nothing per message. Entries arrive asynchronously with their
// start times, so each case's time windows are kept and matched afterwards.
const gcs = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail?.kind === 1) gcs.push(e.startTime);
});
observer.observe({ entryTypes: ['gc'] });

const table = [];
for (const w of workloads) {
  const runs = cases.map(([, setup]) => setup());
  for (const run of runs) for (let i = 0; i < 3; i++) run(w.frames); // JIT warm-up
  const best = runs.map(() => 0);
  const windows = runs.map(() => []);
  const messages = runs.map(() => 0);
  // Rounds interleave the parsers, so load from other processes on this
  // shared machine hits all of them alike; each parser's best round is reported.
  for (let r = 0; r < ROUNDS; r++) {
    runs.forEach((run, i) => {
      const t0 = performance.now();
      const { count, cpu } = round(run, w.frames);
      windows[i].push([t0, performance.now()]);
      messages[i] += count;
      best[i] = Math.max(best[i], count / cpu);
    });
  }
  table.push({ w, best, windows, messages });
}
await new Promise((resolve) => setTimeout(resolve, 50));
observer.disconnect();

for (const { w, best, windows, messages } of table) {
  const baseline = best[best.length - 1];
  console.log(`\n${w.name} (${w.avgPayload.toFixed(1)} bytes per message)`);
  console.log(
    `${'case'.padEnd(56)} ${'msg/CPU-s'.padStart(11)} ${'ns/msg'.padStart(7)} ${'MB/s'.padStart(7)} ${'vs pglr'.padStart(7)} ${'GCs/1M'.padStart(7)}`,
  );
  cases.forEach(([name], i) => {
    const inCase = gcs.filter((t) => windows[i].some(([a, b]) => t >= a && t <= b)).length;
    console.log(
      `${name.padEnd(56)} ${Math.round(best[i]).toLocaleString('en-US').padStart(11)} ${(
        1e9 / best[i]
      )
        .toFixed(0)
        .padStart(7)} ${((best[i] * w.avgPayload) / 1e6).toFixed(1).padStart(7)} ${`${(
        best[i] / baseline
      ).toFixed(2)}x`.padStart(7)} ${((inCase / messages[i]) * 1e6).toFixed(1).padStart(7)}`,
    );
  });
}
if (sink === 0) console.log('(sink)');

// @kuvasz/apply fed by hand: two source transactions into a clone and a
// history table, applied exactly once. The engine writes into tables that
// exist (it never creates them); here they are created by hand, as
// `kuvasz-streamer plan` would from the source tables.
//   DEST_URL=postgres://user:pass@localhost/warehouse node apply.js
import {
  ApplyEngine,
  formatLsn,
  type Logger,
  type SourceRelation,
  WIRE_NULL,
  type WireTuple,
} from '@kuvasz/apply';
import pg from 'pg';

// The default logger is silent: an error thrown in a listener is logged, so log somewhere.
const logger: Logger = {
  child: () => logger,
  debug: () => {},
  info: () => {},
  warn: (obj, msg) => console.warn(msg, obj),
  error: (obj, msg) => console.error(msg, obj),
};
const pool = new pg.Pool({ connectionString: process.env.DEST_URL, max: 6 });
await pool.query(`CREATE SCHEMA IF NOT EXISTS dw;
  CREATE TABLE IF NOT EXISTS dw.orders (sid text, id int, total numeric, PRIMARY KEY (sid, id));
  CREATE TABLE IF NOT EXISTS dw.prices_history (sid text NOT NULL, sku text NOT NULL, cents int,
    kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL,
    kvsz_deleted boolean NOT NULL DEFAULT false)`);

const engine = new ApplyEngine({
  destination: pool,
  logger,
  tables: [
    {
      source: { database: 'shop', schema: 'public', table: 'orders' },
      target: { schema: 'dw', table: 'orders' },
      type: 'clone',
    },
    {
      source: { database: 'shop', schema: 'public', table: 'prices' },
      target: { schema: 'dw', table: 'prices_history' },
      type: 'history',
    },
  ],
});
await engine.start(); // TargetError lists every problem with the target tables
// Acknowledge to the source only what is durable here (a reader's stream.ack(lsn)).
engine.onDurable((source, lsn) =>
  console.log(`durable: sid ${source.sid} up to ${formatLsn(lsn)}`),
);
// A refused change stops its source: fix the target, then resumeSource and push again.
engine.onSourceFailed((source, err) => console.error(`sid ${source.sid} stopped: ${err.message}`));

const orders: SourceRelation = {
  schema: 'public',
  table: 'orders',
  replicaIdentity: 'default',
  columns: [
    { name: 'id', typeOid: 23, isKey: true },
    { name: 'total', typeOid: 1700, isKey: false },
  ],
};
const prices: SourceRelation = {
  schema: 'public',
  table: 'prices',
  replicaIdentity: 'default',
  columns: [
    { name: 'sku', typeOid: 25, isKey: true },
    { name: 'cents', typeOid: 23, isKey: false },
  ],
};
const source = { database: 'shop', sid: '1' };
await engine.push({
  source,
  commitLsn: 0x16b3748n,
  endLsn: 0x16b3778n,
  commitTime: '2026-11-22 10:00:00.123456+00',
  changes: [
    { op: 'insert', relation: orders, new: ['1', '9.90'] },
    { op: 'insert', relation: prices, new: ['apple', '120'] },
  ],
});
await engine.push({
  source,
  commitLsn: 0x16b3900n,
  endLsn: 0x16b3930n,
  commitTime: '2026-11-22 10:05:00+00',
  changes: [
    { op: 'update', relation: orders, new: ['1', '12.00'] },
    { op: 'update', relation: prices, new: ['apple', '135'] },
  ],
});
// A reader that keeps rows as bytes (the streamer's path) passes inserts as wire
// tuples: pgoutput's text values and where each column lies. They go into the
// destination's COPY as bytes; the engine decodes only what it needs (the key).
const bytes = new TextEncoder().encode('2');
const wire: WireTuple = {
  bytes,
  offsets: Int32Array.of(0, bytes.length, WIRE_NULL, 0),
  at: 0,
  count: 2,
};
await engine.push({
  source,
  commitLsn: 0x16b3a00n,
  endLsn: 0x16b3a30n,
  commitTime: '2026-11-22 10:06:00+00',
  changes: [{ op: 'insert', relation: orders, wire }], // order 2, total NULL
});
await engine.flush(); // everything pushed so far is durable
const { rows } = await pool.query(
  `SELECT sku, cents, kvsz_end > now() AS current FROM dw.prices_history ORDER BY kvsz_start`,
);
console.log('orders:', (await pool.query('SELECT sid, id, total FROM dw.orders ORDER BY id')).rows);
console.log('prices_history:', rows);
await engine.close();
await pool.end();

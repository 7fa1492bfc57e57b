/**
 * The SQL behind the golden fixtures in `test/fixtures/`. Each scenario runs
 * in a fresh database: `setup` before the slot is created (DDL is not
 * decoded), then each `steps` entry as its own query on one session (so each
 * is its own transaction unless it says BEGIN), then the slot is peeked with
 * `pg_logical_slot_peek_binary_changes(slot, NULL, NULL, <options>)` from a
 * session with TimeZone UTC and logical_decoding_work_mem 64kB.
 */

export interface CaptureRun {
  /** Server major. */
  pg: 14 | 15 | 17;
  /** pgoutput options besides publication_names. */
  options: Record<string, string>;
}

export interface Scenario {
  name: string;
  /** Create the slot with two_phase => true. */
  twoPhaseSlot?: boolean;
  setup: string[];
  steps: string[];
  /** Run after the peek (e.g. to drop cluster-wide objects). */
  teardown?: string[];
  runs: CaptureRun[];
}

const v1 = { proto_version: '1' };
const both = (options: Record<string, string>): CaptureRun[] => [
  { pg: 14, options },
  { pg: 17, options },
];

export const SCENARIOS: Scenario[] = [
  {
    name: 'dml',
    setup: [
      `CREATE TABLE items (
         id int PRIMARY KEY,
         qty smallint,
         big bigint,
         name text,
         price numeric(12,2),
         ok boolean,
         at timestamptz,
         doc jsonb,
         raw bytea,
         tags text[]
       )`,
    ],
    steps: [
      `INSERT INTO items VALUES (1, 32767, 9223372036854775807, 'plain ascii', 12345.67, true,
         '2026-11-22 10:00:00.123456+00', '{"a": [1, 2.5, null], "b": "x"}', '\\x00ff10', '{a,"b c",NULL}')`,
      `INSERT INTO items VALUES (2, -32768, -9223372036854775808, E'h\\u00e9llo \\u20ac \\U0001F600', -0.01, false,
         'infinity', 'null', '', '{}')`,
      `INSERT INTO items (id, name, at) VALUES (3, E'\\uFEFFbom first', '-infinity')`,
      `INSERT INTO items (id, name) VALUES (4, '')`,
      `UPDATE items SET name = 'renamed', qty = 1 WHERE id = 1`,
      `UPDATE items SET id = 10 WHERE id = 2`,
      `DELETE FROM items WHERE id = 3`,
      `BEGIN; INSERT INTO items (id) VALUES (5); INSERT INTO items (id) VALUES (6); COMMIT`,
    ],
    runs: both(v1),
  },
  {
    name: 'replica-identity',
    setup: [
      'CREATE TABLE ri_default (id int PRIMARY KEY, v text)',
      'CREATE TABLE ri_index (id int NOT NULL, code text NOT NULL, v text)',
      'CREATE UNIQUE INDEX ri_index_code ON ri_index (code)',
      'ALTER TABLE ri_index REPLICA IDENTITY USING INDEX ri_index_code',
      'CREATE TABLE ri_full (id int, v text, n numeric)',
      'ALTER TABLE ri_full REPLICA IDENTITY FULL',
      'CREATE TABLE ri_nothing (id int, v text)',
      'ALTER TABLE ri_nothing REPLICA IDENTITY NOTHING',
    ],
    steps: [
      `INSERT INTO ri_default VALUES (1, 'a')`,
      `UPDATE ri_default SET v = 'b' WHERE id = 1`,
      'UPDATE ri_default SET id = 2 WHERE id = 1',
      'DELETE FROM ri_default WHERE id = 2',
      `INSERT INTO ri_index VALUES (1, 'k1', 'a')`,
      `UPDATE ri_index SET v = 'b'`,
      `UPDATE ri_index SET code = 'k2'`,
      'DELETE FROM ri_index',
      `INSERT INTO ri_full VALUES (1, 'a', 1.5), (2, NULL, NULL)`,
      `UPDATE ri_full SET v = 'b' WHERE id = 1`,
      'DELETE FROM ri_full WHERE id = 2',
      `INSERT INTO ri_nothing VALUES (1, 'x')`,
    ],
    runs: both(v1),
  },
  {
    name: 'truncate',
    setup: [
      'CREATE TABLE tr_parent (id int PRIMARY KEY)',
      'CREATE TABLE tr_child (id int PRIMARY KEY, parent int REFERENCES tr_parent)',
      'CREATE TABLE tr_seq (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)',
    ],
    steps: [
      `BEGIN; INSERT INTO tr_parent VALUES (1); INSERT INTO tr_child VALUES (1, 1); INSERT INTO tr_seq (v) VALUES ('a'); COMMIT`,
      'TRUNCATE tr_parent, tr_seq RESTART IDENTITY CASCADE',
      `INSERT INTO tr_seq (v) VALUES ('b')`,
      'TRUNCATE tr_seq',
    ],
    runs: both(v1),
  },
  {
    name: 'messages',
    setup: ['CREATE TABLE msg_t (id int PRIMARY KEY)'],
    steps: [
      `SELECT pg_logical_emit_message(false, 'kuvasz/plain', 'non-transactional')`,
      `BEGIN; INSERT INTO msg_t VALUES (1); SELECT pg_logical_emit_message(true, 'kuvasz/tx', 'in a transaction \u2713'); COMMIT`,
      `SELECT pg_logical_emit_message(false, 'kuvasz/bytes', '\\x00ff00'::bytea)`,
      `SELECT pg_logical_emit_message(true, 'kuvasz/alone', '')`,
    ],
    runs: both({ ...v1, messages: 'true' }),
  },
  {
    name: 'toast',
    setup: [
      'CREATE TABLE toasty (id int PRIMARY KEY, note text, big text)',
      'ALTER TABLE toasty ALTER COLUMN big SET STORAGE EXTERNAL',
      'CREATE TABLE toasty_full (id int PRIMARY KEY, note text, big text)',
      'ALTER TABLE toasty_full ALTER COLUMN big SET STORAGE EXTERNAL',
      'ALTER TABLE toasty_full REPLICA IDENTITY FULL',
    ],
    steps: [
      `INSERT INTO toasty VALUES (1, 'first', repeat('0123456789', 300))`,
      `UPDATE toasty SET note = 'second' WHERE id = 1`,
      `UPDATE toasty SET big = repeat('x', 2500), note = 'third' WHERE id = 1`,
      'DELETE FROM toasty WHERE id = 1',
      `INSERT INTO toasty_full VALUES (1, 'first', repeat('0123456789', 300))`,
      `UPDATE toasty_full SET note = 'second' WHERE id = 1`,
    ],
    runs: both(v1),
  },
  {
    name: 'origin',
    setup: [
      'CREATE TABLE orig_t (id int PRIMARY KEY)',
      `SELECT pg_replication_origin_create('kuvasz_origin')`,
    ],
    steps: [
      `SELECT pg_replication_origin_session_setup('kuvasz_origin')`,
      `BEGIN; SELECT pg_replication_origin_xact_setup('12/3456789A', '2026-11-22 10:00:00+00'); INSERT INTO orig_t VALUES (1); COMMIT`,
      'SELECT pg_replication_origin_session_reset()',
      'INSERT INTO orig_t VALUES (2)',
    ],
    teardown: [`SELECT pg_replication_origin_drop('kuvasz_origin')`],
    runs: both(v1),
  },
  {
    name: 'types',
    setup: [
      `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
      'CREATE TYPE pair AS (a int, b text)',
      'CREATE DOMAIN posint AS int CHECK (VALUE > 0)',
      'CREATE TABLE typed (id int PRIMARY KEY, m mood, p pair, d posint, ms mood[])',
    ],
    steps: [`INSERT INTO typed VALUES (1, 'happy', ROW(7, 'seven'), 5, '{sad,ok}')`],
    runs: both(v1),
  },
  {
    name: 'binary',
    setup: [
      `CREATE TYPE bmood AS ENUM ('sad', 'happy')`,
      `CREATE TABLE bin (
         id int PRIMARY KEY,
         big bigint,
         name text,
         ok boolean,
         f float8,
         at timestamptz,
         price numeric,
         raw bytea,
         u uuid,
         m bmood,
         note text
       )`,
      'ALTER TABLE bin ALTER COLUMN note SET STORAGE EXTERNAL',
    ],
    steps: [
      `INSERT INTO bin VALUES (1, -2, 'h\u00e9', true, 1.5, '2000-01-01 00:00:01+00', 12345.678, '\\xdeadbeef',
         '00112233-4455-6677-8899-aabbccddeeff', 'happy', repeat('n', 3000))`,
      `UPDATE bin SET name = 'b' WHERE id = 1`,
      'INSERT INTO bin (id) VALUES (2)',
    ],
    runs: both({ ...v1, binary: 'true' }),
  },
  {
    name: 'stream',
    setup: ['CREATE TABLE big_t (id int PRIMARY KEY, pad text)'],
    steps: [
      `INSERT INTO big_t SELECT g, 's' FROM generate_series(1, 700) g`,
      `BEGIN; INSERT INTO big_t SELECT g, 'a' FROM generate_series(1001, 1700) g; ROLLBACK`,
      `BEGIN;
       INSERT INTO big_t SELECT g, 'c' FROM generate_series(2001, 2300) g;
       SAVEPOINT sp;
       INSERT INTO big_t SELECT g, 'r' FROM generate_series(3001, 3700) g;
       ROLLBACK TO SAVEPOINT sp;
       INSERT INTO big_t VALUES (4000, 'after');
       COMMIT`,
    ],
    runs: [
      { pg: 14, options: { proto_version: '2', streaming: 'on' } },
      { pg: 17, options: { proto_version: '2', streaming: 'on' } },
      { pg: 17, options: { proto_version: '4', streaming: 'parallel' } },
    ],
  },
  {
    name: 'two-phase',
    twoPhaseSlot: true,
    setup: ['CREATE TABLE tp_t (id int PRIMARY KEY, pad text)'],
    steps: [
      `BEGIN; INSERT INTO tp_t VALUES (1, 'a'); PREPARE TRANSACTION 'kuvasz-gid-1'`,
      `COMMIT PREPARED 'kuvasz-gid-1'`,
      `BEGIN; INSERT INTO tp_t VALUES (2, 'b'); PREPARE TRANSACTION 'kuvasz-gid-2'`,
      `ROLLBACK PREPARED 'kuvasz-gid-2'`,
      `BEGIN; INSERT INTO tp_t SELECT g, 'p' FROM generate_series(100, 799) g; PREPARE TRANSACTION 'kuvasz-gid-3'`,
      `COMMIT PREPARED 'kuvasz-gid-3'`,
    ],
    runs: [
      { pg: 15, options: { proto_version: '3', two_phase: 'on', streaming: 'on' } },
      { pg: 17, options: { proto_version: '3', two_phase: 'on', streaming: 'on' } },
    ],
  },
];

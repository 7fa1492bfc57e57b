import {
  type ArenaBinaryDecoders,
  type BinaryTextDecoders,
  loadBinaryTextDecoders,
  MessageTag,
  MessageView,
  PgoutputDecoder,
  type PgoutputMessage,
  pgTimestampToIso,
  type Tuple,
  TupleArena,
  TupleTag,
  type TupleView,
  UNCHANGED_TOAST,
} from '@kuvasz/pgoutput';
import type pg from 'pg';
import {
  type ChangeTuple,
  type RowChange,
  type SourceId,
  type SourceRelation,
  type SourceTransaction,
  UNCHANGED,
} from '../src/index.js';

/** Turns decoded pgoutput messages into the engine's SourceTransactions (test and bench only). */
export class TxAssembler {
  private readonly decoder = new PgoutputDecoder({ protoVersion: 1 });
  private readonly relations = new Map<number, SourceRelation>();
  /** Binary mode: each relation's decoders, by relation OID. */
  private readonly decoders = new Map<number, ArenaBinaryDecoders>();
  private current: { commitLsn: bigint; time: string; changes: RowChange[] } | undefined;
  private readonly view = new MessageView({ protoVersion: 1 });
  private readonly arena = new TupleArena();

  /**
   * `wire`: inserts, updates that keep their key and deletes by key as wire
   * tuples (bytes in an arena), as the streamer sends them. `binary`: the
   * slot is read in binary mode, and these decode its values where text is
   * needed (as the streamer does).
   */
  constructor(
    private readonly source: SourceId,
    private readonly wire = false,
    private readonly binary?: BinaryTextDecoders,
  ) {}

  /** Feeds one message; returns a transaction on its commit. */
  feed(data: Uint8Array): SourceTransaction | undefined {
    if (this.wire && this.current && this.wireRow(data)) return undefined;
    const m: PgoutputMessage = this.decoder.decode(data);
    switch (m.tag) {
      case 'begin':
        this.current = { commitLsn: m.finalLsn, time: pgTimestampToIso(m.commitTime), changes: [] };
        return undefined;
      case 'relation':
        this.relations.set(m.relationOid, {
          schema: m.schema,
          table: m.name,
          replicaIdentity: m.replicaIdentity,
          columns: m.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, isKey: c.isKey })),
        });
        if (this.binary) {
          const binary = this.binary;
          this.decoders.set(
            m.relationOid,
            m.columns.map((c) => {
              const d = binary.decoder(c.typeOid);
              if (!d) throw new Error(`column ${c.name}: ${binary.problem(c.typeOid)}`);
              return d;
            }),
          );
        }
        return undefined;
      case 'insert':
        this.current!.changes.push({
          op: 'insert',
          relation: this.rel(m.relationOid),
          new: this.tuple(m.relationOid, m.new),
        });
        return undefined;
      case 'update':
        this.current!.changes.push({
          op: 'update',
          relation: this.rel(m.relationOid),
          new: this.tuple(m.relationOid, m.new),
          key: m.key && this.tuple(m.relationOid, m.key),
          old: m.old && this.tuple(m.relationOid, m.old),
        });
        return undefined;
      case 'delete':
        this.current!.changes.push({
          op: 'delete',
          relation: this.rel(m.relationOid),
          key: m.key && this.tuple(m.relationOid, m.key),
          old: m.old && this.tuple(m.relationOid, m.old),
        });
        return undefined;
      case 'truncate':
        this.current!.changes.push({
          op: 'truncate',
          relations: m.relationOids.map((o) => this.rel(o)),
          cascade: m.cascade,
          restartIdentity: m.restartIdentity,
        });
        return undefined;
      case 'commit': {
        const c = this.current!;
        this.current = undefined;
        return {
          source: this.source,
          commitLsn: c.commitLsn,
          endLsn: m.endLsn,
          commitTime: c.time,
          changes: c.changes,
        };
      }
      default:
        return undefined;
    }
  }

  /**
   * As the streamer's stream (wireRows): an insert, an update that keeps its
   * key and a delete by key stay bytes in the arena, and no message object
   * is made. False for anything else (decoded as usual).
   */
  private wireRow(data: Uint8Array): boolean {
    const tag = this.view.reset(data);
    let row: TupleView;
    let op: 'insert' | 'update' | 'delete';
    if (tag === MessageTag.Insert) {
      op = 'insert';
      row = this.view.newTuple;
    } else if (tag === MessageTag.Update && this.view.oldMarker === 0) {
      op = 'update';
      row = this.view.newTuple;
    } else if (tag === MessageTag.Delete && this.view.oldMarker === TupleTag.Key) {
      op = 'delete';
      row = this.view.oldTuple;
    } else return false;
    const wire = this.binary
      ? this.arena.add(row, this.decoders.get(this.view.relationOid))
      : this.arena.add(row);
    if (!wire) return false;
    this.current!.changes.push({ op, relation: this.rel(this.view.relationOid), wire });
    return true;
  }

  /** A decoded tuple as the engine takes it: binary values through the relation's decoders. */
  private tuple(oid: number, t: Tuple): ChangeTuple {
    const d = this.decoders.get(oid);
    return t.map((v, i) => (v instanceof Uint8Array ? d![i]!(v, 0, v.length) : v)) as ChangeTuple;
  }

  private rel(oid: number): SourceRelation {
    const r = this.relations.get(oid);
    if (!r) throw new Error(`no relation ${oid}`);
    return r;
  }
}

// One registered symbol: a decoded text-mode tuple is a ChangeTuple as is.
if ((UNCHANGED_TOAST as symbol) !== UNCHANGED) throw new Error('UNCHANGED is not UNCHANGED_TOAST');

/** Decoders from binary to text for the types of `tables`' columns, as the streamer builds them. */
export async function binaryDecoders(
  client: pg.Client,
  tables: string[],
): Promise<BinaryTextDecoders> {
  const oids = await client.query<{ oid: number }>(
    'SELECT atttypid::int AS oid FROM pg_attribute WHERE attrelid = ANY($1::regclass[]) AND attnum > 0 AND NOT attisdropped',
    [tables],
  );
  return loadBinaryTextDecoders(
    (text, values) => client.query(text, values),
    oids.rows.map((r) => r.oid),
  );
}

/**
 * Consumes a slot through SQL, a chunk of whole transactions at a time, and
 * hands each transaction to `onTx`.
 */
export async function drainSlot(
  client: pg.Client,
  slot: string,
  publication: string,
  source: SourceId,
  onTx: (tx: SourceTransaction) => Promise<void>,
  chunk = 20_000,
  options: { wire?: boolean; binary?: BinaryTextDecoders } = {},
): Promise<number> {
  const asm = new TxAssembler(source, options.wire, options.binary);
  const mode = options.binary ? `, 'binary', 'true'` : '';
  let n = 0;
  for (;;) {
    const res = await client.query<{ data: Buffer }>(
      `SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, $2, 'proto_version', '1', 'publication_names', $3${mode})`,
      [slot, chunk, publication],
    );
    if (res.rows.length === 0) return n;
    for (const row of res.rows) {
      const tx = asm.feed(row.data);
      if (tx) {
        n++;
        await onTx(tx);
      }
    }
  }
}

/** A source database with a publication on every table of `ddl` and a pgoutput slot. */
export async function sourceDatabase(
  cluster: {
    createDatabase(): Promise<string>;
    sql(text: string, params?: unknown[], db?: string): Promise<unknown[]>;
  },
  ddl: string,
  name: string,
): Promise<{ db: string; slot: string; publication: string }> {
  const db = await cluster.createDatabase();
  const slot = `s_${name}_${db}`;
  const publication = `p_${name}`;
  await cluster.sql(ddl, [], db);
  await cluster.sql(`CREATE PUBLICATION ${publication} FOR ALL TABLES`, [], db);
  await cluster.sql(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot], db);
  return { db, slot, publication };
}

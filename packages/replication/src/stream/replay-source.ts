import { PgoutputDecoder, type PgoutputProtoVersion } from '@kuvasz/pgoutput';
import { StreamError } from '../errors.js';
import type { TransactionPart } from '../types.js';
import {
  type DmlMessage,
  PartBuilder,
  type PartHeader,
  type PartLimits,
  type RelationMapping,
  toChange,
} from './part-builder.js';
import { type LogChunk, readRecord } from './spill-log.js';
import type { StreamedTransaction } from './streamed-transactions.js';

/**
 * A committed streamed transaction, replayed from its log as parts. The raw
 * messages were stored as received (with their streaming xid prefix), so a
 * fresh decoder is put into "inside a stream block" state first.
 */
export class ReplaySource {
  private readonly decoder: PgoutputDecoder;
  private readonly builder: PartBuilder;
  private readonly total: number;
  private consumed = 0;
  private iter: AsyncGenerator<LogChunk> | undefined;
  private chunk: LogChunk | undefined;
  private at = 0;
  private done = false;

  constructor(
    private readonly tx: StreamedTransaction,
    readonly header: PartHeader,
    private readonly options: {
      protoVersion: PgoutputProtoVersion;
      mapping: RelationMapping;
      limits: PartLimits;
      slot: string;
    },
  ) {
    this.decoder = new PgoutputDecoder({ protoVersion: options.protoVersion });
    const start = Buffer.alloc(6);
    start[0] = 0x53; // 'S' Stream Start
    start.writeUInt32BE(tx.xid >>> 0, 1);
    this.decoder.decode(start);
    this.builder = new PartBuilder(options.limits);
    this.total = tx.changes + tx.messages;
  }

  /** The next part, or undefined once the final one was returned. */
  async next(): Promise<TransactionPart | undefined> {
    if (this.done) return undefined;
    this.iter ??= this.tx.log.chunks();
    while (!this.builder.isFull && this.consumed < this.total) {
      if (!this.chunk || this.at >= this.chunk.end) {
        const r = await this.iter.next();
        // Disposed meanwhile (a reconnect): the caller drops whatever comes back.
        if (r.done || this.done) break;
        this.chunk = r.value;
        this.at = r.value.start;
      }
      const rec = readRecord(this.chunk.buf, this.at, this.chunk.end);
      if (!rec) {
        throw new StreamError(
          'spill_error',
          this.options.slot,
          `replaying streamed transaction ${this.tx.xid}: a stored record is cut short`,
        );
      }
      this.at = rec.next;
      this.consumed++;
      const msg = this.decoder.decode(rec.payload);
      if (msg.tag === 'message') {
        this.builder.addMessage(msg, rec.payload.length);
        continue;
      }
      if (
        msg.tag !== 'insert' &&
        msg.tag !== 'update' &&
        msg.tag !== 'delete' &&
        msg.tag !== 'truncate'
      ) {
        throw new StreamError(
          'protocol_error',
          this.options.slot,
          `replaying streamed transaction ${this.tx.xid}: unexpected stored message '${msg.tag}'`,
        );
      }
      const rels = rec.relIdxs.map((i) => {
        const rel = this.tx.relations[i];
        if (!rel) {
          throw new StreamError(
            'protocol_error',
            this.options.slot,
            `replaying streamed transaction ${this.tx.xid}: relation index ${i} out of range`,
          );
        }
        return this.options.mapping.apply(rel);
      });
      this.builder.addChange(toChange(msg as DmlMessage, rels), rec.payload.length);
    }
    const final = this.consumed >= this.total || this.builder.isEmpty;
    if (final) {
      if (this.consumed < this.total) {
        throw new StreamError(
          'spill_error',
          this.options.slot,
          `replaying streamed transaction ${this.tx.xid}: its log ended after ${this.consumed} of ${this.total} messages`,
        );
      }
      this.done = true;
    }
    return this.builder.take(this.header, final);
  }

  dispose(): void {
    this.done = true;
    this.chunk = undefined;
    this.tx.dispose();
    void this.iter?.return(undefined);
  }
}

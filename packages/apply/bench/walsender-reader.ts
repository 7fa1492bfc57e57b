/**
 * The bench's reader: a slot consumed through a walsender (START_REPLICATION,
 * CopyBoth) with @kuvasz/replication's connection, as the streamer reads it
 * (the same socket handling), with standby status
 * updates reporting what the engine made durable. Messages are handled as
 * they arrive; the stream pauses only while the consumer is busy (the
 * engine's backpressure). Bench only.
 */
import {
  encodeStandbyStatusUpdate,
  formatLsn,
  parseReplicationFrame,
  XLOGDATA_HEADER_BYTES,
  xlogDataStart,
} from '@kuvasz/pgoutput';
// Not part of @kuvasz/replication's public API (its stream assembles transactions, which
// this bench does with the engine's test assembler); bundled from source with the bench.
import { batchReads } from '../../replication/bench/batched-reads.js';
import { ReplicationConnection } from '../../replication/src/replication-connection.js';

export interface StreamSlotOptions {
  url: string;
  slot: string;
  publication: string;
  startLsn: bigint;
  /**
   * Called with each pgoutput message, in order. Return `true` to stop after
   * it, a promise to pause the stream until it settles (resolving `true`
   * stops too), anything else to go on.
   */
  onMessage(data: Uint8Array): boolean | undefined | Promise<boolean | undefined>;
  /** The LSN to report as flushed (what the consumer made durable). */
  durable(): bigint | undefined;
  /** Read the socket in batches (see replication's bench/batched-reads.ts): receiving at its cheapest. */
  batchedReads?: boolean;
}

/** Streams the slot until `onMessage` asks to stop; returns once the walsender is gone. */
export async function streamSlot(o: StreamSlotOptions): Promise<void> {
  const conn = await ReplicationConnection.open(o.url);
  if (o.batchedReads) batchReads(conn);
  const stream = conn.startReplication(
    `START_REPLICATION SLOT "${o.slot}" LOGICAL ${formatLsn(o.startLsn)} (proto_version '1', publication_names '${o.publication}')`,
  );
  const feedback = () => {
    const lsn = o.durable() ?? 0n;
    stream.write(
      Buffer.from(encodeStandbyStatusUpdate({ writeLsn: lsn, flushLsn: lsn, applyLsn: lsn })),
    );
  };
  const timer = setInterval(feedback, 1000);
  try {
    await new Promise<void>((resolve, reject) => {
      let stopped = false;
      const stop = () => {
        stopped = true;
        stream.pause();
        resolve();
      };
      stream.on('error', reject);
      stream.on('end', resolve);
      stream.on('data', (chunk: Buffer) => {
        if (stopped) return;
        try {
          // As the stream reads them: XLogData without a frame object.
          if (xlogDataStart(chunk) === undefined) {
            const frame = parseReplicationFrame(chunk);
            if (frame.tag === 'keepalive' && frame.replyRequested) feedback();
            return;
          }
          const r = o.onMessage(chunk.subarray(XLOGDATA_HEADER_BYTES));
          if (r === true) stop();
          else if (r instanceof Promise) {
            stream.pause();
            r.then((done) => (done ? stop() : stream.resume()), reject);
          }
        } catch (e) {
          reject(e);
        }
      });
    });
  } finally {
    clearInterval(timer);
    try {
      feedback();
    } catch {
      // the stream may already be closed
    }
    await conn.close().catch(() => {});
  }
}

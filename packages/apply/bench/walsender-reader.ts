/// <reference path="./pg-copy-streams-both.d.ts" />
/**
 * The bench's reader: a slot consumed through a walsender (START_REPLICATION,
 * CopyBoth), as the streamer and a native subscription read it, with standby
 * status updates reporting what the engine made durable. Bench only.
 */
import { encodeStandbyStatusUpdate, formatLsn, parseReplicationFrame } from '@kuvasz/pgoutput';
import pg from 'pg';
import { both } from 'pg-copy-streams';

export interface StreamSlotOptions {
  url: string;
  slot: string;
  publication: string;
  startLsn: bigint;
  /** Called with each pgoutput message, in order; resolve `true` to stop after it. */
  onMessage(data: Uint8Array): Promise<boolean> | boolean;
  /** The LSN to report as flushed (what the consumer made durable). */
  durable(): bigint | undefined;
}

/** Streams the slot until `onMessage` asks to stop; returns once the walsender is gone. */
export async function streamSlot(o: StreamSlotOptions): Promise<void> {
  const client = new pg.Client({
    connectionString: o.url,
    replication: 'database',
  } as pg.ClientConfig);
  client.on('error', () => {});
  await client.connect();
  const stream = both(
    `START_REPLICATION SLOT "${o.slot}" LOGICAL ${formatLsn(o.startLsn)} (proto_version '1', publication_names '${o.publication}')`,
    { alignOnCopyDataFrame: true, readableObjectMode: true } as { alignOnCopyDataFrame: boolean },
  );
  client.query(stream as unknown as pg.Submittable);
  const feedback = () => {
    const lsn = o.durable() ?? 0n;
    stream.write(
      Buffer.from(encodeStandbyStatusUpdate({ writeLsn: lsn, flushLsn: lsn, applyLsn: lsn })),
    );
  };
  const timer = setInterval(feedback, 1000);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const frame = parseReplicationFrame(chunk);
      if (frame.tag === 'keepalive') {
        if (frame.replyRequested) feedback();
        continue;
      }
      if (await o.onMessage(frame.data)) break;
    }
  } finally {
    clearInterval(timer);
    try {
      feedback();
    } catch {
      // the stream may already be closed
    }
    await client.end().catch(() => {});
  }
}

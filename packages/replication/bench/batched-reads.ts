import type { ReplicationConnection } from '../src/replication-connection.js';

/**
 * Bench only: makes a replication connection's socket rest 1 ms after each
 * read, so a busy walsender's small sends pile up in the kernel and are read
 * about 60 KiB at a time, as when the consumer is busy applying. What
 * receiving costs at best; the stream itself reads as data arrives
 * (resting raised the CLI bench's p50 latency at 10,000 changes/s from 10 to
 * 21 ms). Uses pg's socket, an internal: pg's parser listens first, so a
 * read's frames are handled before it rests.
 */
export function batchReads(conn: ReplicationConnection): void {
  const socket = (conn.client as unknown as { connection: { stream: NodeJS.ReadableStream } })
    .connection.stream;
  let resting = false;
  socket.on('data', () => {
    if (resting) return;
    resting = true;
    socket.pause();
    setTimeout(() => {
      resting = false;
      socket.resume();
    }, 1);
  });
}

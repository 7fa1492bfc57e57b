// @types/pg-copy-streams 1.2 predates pg-copy-streams' `both` (CopyBoth, used
// by START_REPLICATION); this is the part of it the tests use.
import 'pg-copy-streams';
import type { Duplex } from 'node:stream';

declare module 'pg-copy-streams' {
  interface CopyBothQueryStream extends Duplex {
    submit(connection: unknown): void;
  }
  export function both(
    text: string,
    options?: { alignOnCopyDataFrame?: boolean },
  ): CopyBothQueryStream;
}

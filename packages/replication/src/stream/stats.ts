/** Counters the stream exposes as `stats`. */
export interface StreamStats {
  /** Whole transactions delivered (final parts). */
  transactions: number;
  parts: number;
  changes: number;
  /** Transactions the server streamed while in progress, committed. */
  streamedCommitted: number;
  /** Streamed transactions dropped because they aborted. */
  streamedAborted: number;
  /** Aborted subtransactions cut out of streamed transactions. */
  subtransactionsAborted: number;
  /** Spill files created (a streamed transaction past the memory budget). */
  spillFiles: number;
  /** Times the socket was paused because the consumer was behind. */
  pauses: number;
  statusUpdates: number;
  /** Keepalives the server sent (on a server of many databases, about one per commit of any of them). */
  keepalives: number;
}

export function newStats(): StreamStats {
  return {
    transactions: 0,
    parts: 0,
    changes: 0,
    streamedCommitted: 0,
    streamedAborted: 0,
    subtransactionsAborted: 0,
    spillFiles: 0,
    pauses: 0,
    statusUpdates: 0,
    keepalives: 0,
  };
}

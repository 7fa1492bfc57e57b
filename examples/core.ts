// @kuvasz/core: the helpers every kuvasz package shares. No database needed:
//   node core.js
import {
  Backoff,
  displayName,
  formatLsn,
  type Logger,
  noopLogger,
  parseLsn,
  qualifiedName,
  redactPasswords,
  sleep,
} from '@kuvasz/core';

const t = { schema: 'billing', table: 'Invoices' };
console.log(qualifiedName(t)); // "billing"."Invoices"   (for SQL)
console.log(displayName(t)); // billing."Invoices"      (for messages)
console.log(redactPasswords('cannot connect to postgres://app:p@ss@db/main')); // ...app:***@db/main
console.log(parseLsn('16/B374D848') === 0x16b374d848n, formatLsn(0x16b374d848n)); // true 16/B374D848

// Retry with capped, jittered backoff; a library takes `logger?` and defaults to silence.
async function connectWithRetry(connect: () => Promise<void>, log: Logger = noopLogger) {
  const backoff = new Backoff({ initialMs: 10, maxMs: 100 });
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      const wait = backoff.next();
      log.warn({ err: redactPasswords(String(err)), retryInMs: wait }, 'connect failed; retrying');
      await sleep(wait);
    }
  }
}
let attempts = 0;
await connectWithRetry(async () => {
  if (++attempts < 3) throw new Error('connect ECONNREFUSED postgres://app:secret@db/main');
});
console.log(`connected after ${attempts} attempts`);

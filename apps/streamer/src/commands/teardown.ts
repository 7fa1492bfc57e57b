import { redactPasswords } from '@kuvasz/core';
import { dropPublication, dropSlot, kuvaszObjectName } from '@kuvasz/replication';
import type { CliArgs } from '../cli/args.js';
import { EXIT } from '../errors.js';
import { loadContext } from './context.js';

/** `teardown`: drops the slots and publications of every source (with --yes; without, lists them and exits 0). */
export async function teardownCommand(
  args: CliArgs,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { cfg, redactor } = await loadContext(args, 'teardown');
  if (!args.yes) {
    out.write('would drop (run again with --yes to do it):\n');
    for (const s of cfg.sources) {
      const name = kuvaszObjectName(s.database, s.sid);
      out.write(`  ${redactPasswords(s.url)}: replication slot ${name}, publication ${name}\n`);
    }
    return EXIT.ok;
  }
  let failed = 0;
  for (const s of cfg.sources) {
    const name = kuvaszObjectName(s.database, s.sid);
    try {
      const slot = await dropSlot(s.url, name, { terminateActive: true });
      const pub = await dropPublication(s.url, name);
      out.write(
        `${redactPasswords(s.url)}: slot ${name} ${slot ? 'dropped' : 'absent'}, publication ${name} ${pub ? 'dropped' : 'absent'}\n`,
      );
    } catch (err: unknown) {
      failed++;
      out.write(`${redactPasswords(s.url)}: ${redactor.redact((err as Error).message)}\n`);
    }
  }
  return failed === 0 ? EXIT.ok : EXIT.failed;
}

/**
 * Golden fixtures: runs the SQL scenarios of `capture/scenarios.ts` on real
 * servers. With PGOUTPUT_CAPTURE=1 it (re)writes `test/fixtures/`; otherwise
 * it checks that today's servers still produce what the committed fixtures
 * hold (same messages, with LSNs, times, xids and OIDs normalised away).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PgoutputDecoder } from '../src/index.js';
import { captureScenario, type Fixture, fixtureFileName } from './capture/capture.js';
import { SCENARIOS } from './capture/scenarios.js';
import { FIXTURES_DIR, loadFixture } from './support/fixtures.js';
import { normalize } from './support/normalize.js';

const CAPTURE = process.env.PGOUTPUT_CAPTURE === '1';

function decodeAll(
  fx: Pick<Fixture, 'protoVersion' | 'changes' | 'relations' | 'types'>,
): unknown[] {
  const decoder = new PgoutputDecoder({ protoVersion: fx.protoVersion });
  return fx.changes.map((c) =>
    normalize(decoder.decode(new Uint8Array(Buffer.from(c.data, 'hex'))), fx),
  );
}

const majors = [...new Set(SCENARIOS.flatMap((s) => s.runs.map((r) => r.pg)))].sort();

describe.each(majors)('PostgreSQL %i', (major) => {
  let cluster: PgCluster | undefined;
  beforeAll(async () => {
    cluster = await startPostgres({
      version: major,
      settings: { max_prepared_transactions: 10, logical_decoding_work_mem: '64kB' },
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const cases = SCENARIOS.flatMap((scenario) =>
    scenario.runs
      .filter((run) => run.pg === major)
      .map((run) => ({ scenario, run, file: fixtureFileName(scenario.name, run) })),
  );

  test.each(cases)('$file', async ({ scenario, run, file }) => {
    const fresh = await captureScenario(cluster!, scenario, run);
    expect(fresh.changes.length).toBeGreaterThan(0);
    if (CAPTURE) {
      const target = path.join(FIXTURES_DIR, file);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, `${JSON.stringify(fresh, null, 1)}\n`);
      return;
    }
    const committed = loadFixture(file);
    expect(fresh.serverVersion.split('.')[0]).toBe(String(major));
    expect(decodeAll(fresh)).toEqual(decodeAll(committed));
  });
});

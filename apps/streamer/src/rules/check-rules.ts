import { describeTable } from '@kuvasz/apply';
import { displayName, redactPasswords } from '@kuvasz/core';
import { withPg } from '../commands/targets.js';
import type { Config } from '../config/load.js';
import { RuleError } from './table-rules.js';

/** One table's expression that does not fit its source table. */
export interface RuleProblem {
  source: string;
  table: string;
  message: string;
}

/**
 * Type-checks every `filter` and `set` against the source tables' columns.
 * Sources that cannot be reached within `connectTimeoutMs` are left out
 * (`unreachable`): their rules are checked when their runner connects.
 */
export async function checkRules(
  cfg: Config,
  connectTimeoutMs = 5_000,
): Promise<{ problems: RuleProblem[]; unreachable: string[] }> {
  const problems: RuleProblem[] = [];
  const unreachable: string[] = [];
  const withRules = cfg.sources.filter((s) => s.tables.some((t) => t.rules));
  // A few at a time: 200 tenants must not open 200 connections at once.
  const queue = withRules.slice();
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      const label = `${s.database} (sid ${s.sid})`;
      let connected = false;
      try {
        await withPg(
          s.url,
          `source ${label}`,
          async (client) => {
            connected = true;
            for (const t of s.tables) {
              if (!t.rules) continue;
              const d = await describeTable(client, t.source);
              if (!d) continue; // a missing table is preflight's to report
              try {
                t.rules.bind(d.columns, s.sid);
              } catch (e) {
                if (!(e instanceof RuleError)) throw e;
                problems.push({ source: label, table: displayName(t.source), message: e.message });
              }
            }
          },
          connectTimeoutMs,
        );
      } catch (e) {
        if (connected) throw e;
        unreachable.push(`${label} ${redactPasswords(s.url)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, withRules.length) }, worker));
  return { problems, unreachable };
}

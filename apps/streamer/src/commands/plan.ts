import { describeTable, planTargetDdl, type TableDescription } from '@kuvasz/apply';
import { displayName } from '@kuvasz/core';
import type { CliArgs } from '../cli/args.js';
import type { Config } from '../config/load.js';
import { EXIT, StreamerError } from '../errors.js';
import { pgTypeOfOid } from '../rules/cel-values.js';
import { RuleError, type TableRules } from '../rules/table-rules.js';
import { loadContext } from './context.js';
import { targetsOf, withPg } from './targets.js';

/**
 * `plan`: CREATE TABLE statements for the targets that do not exist yet,
 * shaped after their source tables; `--apply` runs them in one transaction.
 */
export async function planCommand(
  args: CliArgs,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { cfg } = await loadContext(args, 'plan');
  await planDestination(cfg, args.apply, out);
  return EXIT.ok;
}

/** Prints (and with `apply`, runs) the DDL of the targets missing in the destination. */
export async function planDestination(
  cfg: Config,
  apply: boolean,
  out: NodeJS.WritableStream,
): Promise<void> {
  const targets = targetsOf(cfg);
  const statements: string[] = [];
  const ddls: string[] = [];
  await withPg(cfg.destination.url, 'the destination', async (dest) => {
    for (const use of targets) {
      const existing = await describeTable(dest, use.target);
      if (existing) {
        statements.push(
          `-- ${displayName(use.target)} exists; not changed (kuvasz-streamer validate checks it)\n`,
        );
        continue;
      }
      const feed = use.feeds[0];
      if (!feed) continue;
      const source = await withPg(feed.url, `source ${feed.database} (sid ${feed.sid})`, (c) =>
        describeTable(c, feed.source),
      );
      if (!source) {
        throw new StreamerError(
          'runtime',
          `source table ${displayName(feed.source)} does not exist in ${feed.database} (sid ${feed.sid}); fix the configuration or create it`,
          { exitCode: EXIT.failed },
        );
      }
      const shaped = feed.rules ? withComputedColumns(source, feed.rules, feed.sid) : source;
      const ddl = planTargetDdl(shaped, { target: use.target, type: use.type, hasSid: true });
      ddls.push(ddl);
      statements.push(
        `-- ${use.type} table for ${feed.database}.${displayName(feed.source)} (${use.feeds.length} source${use.feeds.length > 1 ? 's' : ''})\n${ddl}`,
      );
    }
    out.write(`${statements.join('\n')}`);
    if (apply) {
      await dest.query('BEGIN');
      try {
        for (const s of ddls) await dest.query(s);
        await dest.query('COMMIT');
      } catch (err: unknown) {
        await dest.query('ROLLBACK').catch(() => undefined);
        throw new StreamerError(
          'runtime',
          `plan --apply failed, nothing was changed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      out.write(`-- applied ${ddls.length} table definition(s)\n`);
    }
  });
}

/** The source's shape with the columns `set` computes (their type from the expression's). */
function withComputedColumns(
  source: TableDescription,
  rules: TableRules,
  sid: string,
): TableDescription {
  let bound: ReturnType<TableRules['bind']>;
  try {
    bound = rules.bind(source.columns, sid);
  } catch (e) {
    if (e instanceof RuleError)
      throw new StreamerError('config', `table ${displayName(source)}: ${e.message}`);
    throw e;
  }
  const columns = source.columns.slice();
  for (const c of bound.computed) {
    const col = {
      name: c.name,
      type: pgTypeOfOid(c.typeOid),
      typeOid: c.typeOid,
      notNull: false,
      default: undefined,
      generated: false,
      identityAlways: false,
    };
    const at = columns.findIndex((x) => x.name === c.name);
    if (at >= 0) columns[at] = col;
    else columns.push(col);
  }
  return { ...source, columns };
}

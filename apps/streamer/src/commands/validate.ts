import { describeTable, type TableDescription, validateTarget } from '@kuvasz/apply';
import { displayName, redactPasswords, tableKey } from '@kuvasz/core';
import { kuvaszObjectName, preflight } from '@kuvasz/replication';
import type { CliArgs } from '../cli/args.js';
import type { Config } from '../config/load.js';
import { EXIT } from '../errors.js';
import { RuleError } from '../rules/table-rules.js';
import { loadContext } from './context.js';
import { targetsOf, withPg } from './targets.js';

interface Section {
  title: string;
  problems: string[];
  /** filter / set expressions that do not fit their source table: configuration errors. */
  ruleProblems: string[];
  warnings: string[];
}

async function checkSources(
  cfg: Config,
): Promise<{ sections: Section[]; sourceTables: Map<string, TableDescription> }> {
  const sourceTables = new Map<string, TableDescription>();
  const sections = await Promise.all(
    cfg.sources.map(async (s): Promise<Section> => {
      const section: Section = {
        title: `source ${s.database} (sid ${s.sid}) ${redactPasswords(s.url)}`,
        problems: [],
        ruleProblems: [],
        warnings: [],
      };
      const name = kuvaszObjectName(s.database, s.sid);
      try {
        const report = await preflight({
          connectionString: s.url,
          tables: s.tables.map((t) => ({ ...t.source, partitionsRegex: t.partitionsRegex })),
          publication: name,
          slot: name,
        });
        section.problems.push(...report.problems.map((p) => p.message));
        section.warnings.push(...report.warnings.map((p) => p.message));
        await withPg(s.url, 'the source', async (c) => {
          for (const t of s.tables) {
            const d = await describeTable(c, t.source);
            if (d) sourceTables.set(`${s.database}\u0000${s.sid}\u0000${tableKey(t.source)}`, d);
            if (d && t.rules) {
              try {
                t.rules.bind(d.columns, s.sid);
              } catch (e) {
                if (!(e instanceof RuleError)) throw e;
                section.ruleProblems.push(`table ${displayName(t.source)}: ${e.message}`);
              }
            }
          }
        });
      } catch (err: unknown) {
        section.problems.push((err as Error).message);
      }
      return section;
    }),
  );
  return { sections, sourceTables };
}

async function checkTargets(
  cfg: Config,
  sourceTables: Map<string, TableDescription>,
): Promise<Section> {
  const section: Section = {
    title: `destination ${redactPasswords(cfg.destination.url)}`,
    problems: [],
    ruleProblems: [],
    warnings: [],
  };
  try {
    await withPg(cfg.destination.url, 'the destination', async (dest) => {
      for (const use of targetsOf(cfg)) {
        const desc = await describeTable(dest, use.target);
        const feed = use.feeds[0];
        const source = feed
          ? sourceTables.get(`${feed.database}\u0000${feed.sid}\u0000${tableKey(feed.source)}`)
          : undefined;
        section.problems.push(
          ...validateTarget(desc, {
            target: use.target,
            type: use.type,
            requireSid: use.feeds.length > 1,
            sourceColumns: source?.columns.map((c) => c.name),
          }),
        );
        if (desc && source && feed?.rules) {
          try {
            for (const c of feed.rules.bind(source.columns, feed.sid).computed) {
              if (!desc.columns.some((t) => t.name === c.name))
                section.problems.push(
                  `${displayName(use.target)} has no column ${c.name}, which set computes; add it (kuvasz-streamer plan prints a target with it)`,
                );
            }
          } catch {
            // Reported with the source.
          }
        }
        if (desc && source) {
          const targetCols = new Map(desc.columns.map((c) => [c.name, c]));
          for (const sc of source.columns) {
            const tc = targetCols.get(sc.name);
            if (tc && tc.type !== sc.type) {
              section.warnings.push(
                `${displayName(use.target)}.${sc.name} is ${tc.type} but the source column is ${sc.type}: values are cast on the way (a failing cast stops the source)`,
              );
            }
          }
        }
      }
    });
  } catch (err: unknown) {
    section.problems.push((err as Error).message);
  }
  return section;
}

/** `validate`: every problem of the sources and the targets, at once; exit 0 when none. */
export async function validateCommand(
  args: CliArgs,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { cfg, redactor } = await loadContext(args, 'validate');
  const { sections, sourceTables } = await checkSources(cfg);
  sections.push(await checkTargets(cfg, sourceTables));
  let problems = 0;
  let ruleProblems = 0;
  let warnings = 0;
  for (const s of sections) {
    out.write(`${s.title}\n`);
    s.problems.push(...s.ruleProblems);
    if (s.problems.length === 0 && s.warnings.length === 0) out.write('  ok\n');
    for (const p of s.problems) out.write(`  problem: ${redactor.redact(p)}\n`);
    ruleProblems += s.ruleProblems.length;
    for (const w of s.warnings) out.write(`  warning: ${redactor.redact(w)}\n`);
    problems += s.problems.length;
    warnings += s.warnings.length;
  }
  out.write(`${problems} problem(s), ${warnings} warning(s)\n`);
  // A filter or set that does not compile is a configuration error, like one the file itself has.
  if (ruleProblems > 0) return EXIT.usage;
  return problems === 0 ? EXIT.ok : EXIT.failed;
}

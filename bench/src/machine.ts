import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { PgCluster } from '@kuvasz/testkit';
import type { Machine } from './types.js';

const versions: Record<string, string> = {};

/** Records the full server version of a cluster a benchmark used. */
export async function noteVersion(c: PgCluster): Promise<void> {
  const r = await c.sql<{ v: string }>("SELECT current_setting('server_version') AS v");
  versions[String(c.version)] = r[0]?.v ?? String(c.version);
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'packages'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${sha} (with uncommitted changes in apps/ or packages/)` : sha;
  } catch {
    return 'unknown';
  }
}

export function machine(loadBefore: number[]): Machine {
  return {
    date: new Date().toISOString(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGB: os.totalmem() / 2 ** 30,
    node: process.version,
    loadBefore,
    loadAfter: os.loadavg(),
    pgVersions: { ...versions },
    commit: commit(),
  };
}

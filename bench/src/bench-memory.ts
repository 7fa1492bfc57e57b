/**
 * Benchmark 4: the streamer's peak RSS (VmHWM of the process) while a single
 * transaction of millions of rows streams through it (PostgreSQL's default
 * logical_decoding_work_mem, so the server streams it in progress and the
 * streamer spills it), and the time until the last row is visible.
 */
import { startPostgres } from '@kuvasz/testkit';
import type { BenchSizes } from './config.js';
import { noteVersion } from './machine.js';
import { cli, StreamerProcess, writeConfig } from './streamer-process.js';
import type { MemoryResult } from './types.js';
import { BENCH_SETTINGS, fmt, one, say, until } from './util.js';

/** A V8 old-space cap that still leaves the streamer room for its batches. */
const CAPPED_HEAP_MB = 96;

export async function benchMemory(
  sizes: BenchSizes,
): Promise<Omit<MemoryResult, 'catchUpPeakRssBytes'> & { problems: string[] }> {
  const s = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  const d = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  await Promise.all([noteVersion(s), noteVersion(d)]);
  try {
    const src = await s.createDatabase('mem');
    const dst = await d.createDatabase('mem_dst');
    await s.sql('CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL)', [], src);
    const config = writeConfig(
      'memory.yaml',
      `destination: { url: "${d.urlFor(dst)}" }
databases:
  - database: mem
    urls: [{ url: "${s.urlFor(src)}", sid: 1 }]
    tables: { big: }
`,
    );
    cli(['plan', '-c', config, '--apply']);
    const problems: string[] = [];
    let first = 1;
    /** One large transaction through a fresh streamer process; its peak RSS and apply time. */
    const once = async (env: NodeJS.ProcessEnv, label: string) => {
      const p = new StreamerProcess(config, env);
      try {
        await p.streaming(1, 60_000);
        const idle = p.peakRss();
        say(`memory (${label}): one transaction of ${fmt(sizes.bigTxRows)} rows`);
        const t0 = performance.now();
        await s.sql(
          "INSERT INTO big SELECT g, repeat('x', 40) || g FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) g",
          [first, sizes.bigTxRows],
          src,
        );
        first += sizes.bigTxRows;
        const committed = performance.now();
        const want = first - 1;
        await until(
          async () => {
            if (p.child.exitCode !== null)
              throw new Error(`the streamer exited (${p.child.exitCode})`);
            return (
              Number(
                (await one<{ n: string }>(d, dst, 'SELECT count(*)::text AS n FROM big')).n,
              ) === want
            );
          },
          { timeoutMs: 3_600_000, intervalMs: 250, what: 'the large transaction to arrive' },
        );
        const applySeconds = (performance.now() - committed) / 1000;
        say(
          `memory (${label}): source commit ${fmt((committed - t0) / 1000, 1)} s, visible ${fmt(applySeconds, 1)} s later, peak RSS ${fmt(p.peakRss() / 1e6)} MB (idle ${fmt(idle / 1e6)} MB)`,
        );
        return { idle, peak: p.peakRss(), applySeconds };
      } finally {
        await p.stop();
        problems.push(...p.problems().map((x) => `memory (${label}): ${x}`));
      }
    };
    const plain = await once({}, 'default heap');
    let capped: MemoryResult['capped'];
    try {
      const r = await once(
        { NODE_OPTIONS: `--max-old-space-size=${CAPPED_HEAP_MB}` },
        'capped heap',
      );
      capped = { heapMB: CAPPED_HEAP_MB, peakRssBytes: r.peak, applySeconds: r.applySeconds };
    } catch (err: unknown) {
      capped = {
        heapMB: CAPPED_HEAP_MB,
        peakRssBytes: 0,
        applySeconds: 0,
        error: (err as Error).message,
      };
    }
    cli(['teardown', '-c', config, '--yes']);
    return {
      version: s.version,
      rows: sizes.bigTxRows,
      idleRssBytes: plain.idle,
      peakRssBytes: plain.peak,
      applySeconds: plain.applySeconds,
      capped,
      problems,
    };
  } finally {
    await s.stop();
    await d.stop();
  }
}

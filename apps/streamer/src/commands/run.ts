import { TargetError } from '@kuvasz/apply';
import { Backoff, sleep } from '@kuvasz/core';
import pg from 'pg';
import { handleAdmin } from '../admin/admin-api.js';
import { adminDeps } from '../admin/admin-deps.js';
import { MapSource } from '../admin/map-source.js';
import { openApiDocument } from '../admin/openapi.js';
import type { CliArgs } from '../cli/args.js';
import { VERSION } from '../cli/help.js';
import type { Config } from '../config/load.js';
import type { Redactor } from '../config/secrets.js';
import { EXIT, StreamerError } from '../errors.js';
import {
  type HttpHandlers,
  type HttpServer,
  startHttpServer,
} from '../observability/http-server.js';
import { createMetrics } from '../observability/metrics.js';
import { checkRules } from '../rules/check-rules.js';
import { buildStatusDocument, type StatusDocument } from '../runtime/status-document.js';
import { Streamer } from '../runtime/streamer.js';
import { loadArgsConfig, loadContext } from './context.js';

/**
 * `run`: the service. Resolves with the exit code once stopped by SIGINT /
 * SIGTERM (after flushing and acknowledging). SIGHUP re-reads the file and
 * restarts the pipeline with it; a broken file is reported and ignored.
 */
export async function runCommand(
  args: CliArgs,
  hooks: { onStarted?: (s: Streamer) => void } = {},
): Promise<number> {
  const { cfg: firstCfg, log, redactor } = await loadContext(args, 'run', { withMap: false });
  const metrics = createMetrics();
  const stopping = new AbortController();
  // In database mode the sources come from the map in the destination.
  const mapSource = await MapSource.open(firstCfg, log, redactor, stopping.signal);
  let fileCfg = firstCfg;
  let cfg = await mapSource.resolve(firstCfg);
  const tty = process.stderr.isTTY ? process.stderr : undefined;
  let streamer: Streamer | undefined;

  /** The configuration's filter / set expressions, type-checked on the sources that answer. */
  const rulesProblem = async (c: typeof cfg): Promise<string | undefined> => {
    const { problems, unreachable } = await checkRules(c);
    for (const u of unreachable)
      log.info(
        { source: u },
        'source not reachable: its filter / set expressions are checked when it connects',
      );
    if (problems.length === 0) return undefined;
    return `${problems.length} filter / set expression(s) do not fit their source table:\n${problems.map((p) => `- ${p.source} table ${p.table}: ${p.message}`).join('\n')}`;
  };
  const firstProblem = await rulesProblem(cfg);
  if (firstProblem) throw new StreamerError('config', firstProblem);

  const start = async (): Promise<Streamer | undefined> => {
    const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
    for (;;) {
      const s = new Streamer(cfg, log, metrics, tty);
      try {
        await s.start();
        log.info(
          {
            sources: cfg.sources.length,
            tables: cfg.sources.reduce((n, x) => n + x.tables.length, 0),
          },
          'streamer started',
        );
        hooks.onStarted?.(s);
        return s;
      } catch (err: unknown) {
        await s.stop().catch(() => undefined);
        if (err instanceof TargetError) {
          throw new StreamerError(
            'config',
            `${err.message}\nrun kuvasz-streamer plan -c ${cfg.file} to see the DDL the destination needs`,
            { cause: err },
          );
        }
        const wait = backoff.next();
        log.error(
          { err, retryInMs: wait },
          'cannot start the apply engine (destination); retrying',
        );
        await sleep(wait, stopping.signal);
        if (stopping.signal.aborted) return undefined;
      }
    }
  };

  /** A small pool of its own for the admin API (creating targets), opened on first use. */
  let adminPool: pg.Pool | undefined;
  let http: HttpServer | undefined;
  if (cfg.http) {
    http = await startHttpServer(
      cfg.http,
      {
        metrics,
        beforeScrape: () => streamer?.syncOperationMetrics(),
        status: () =>
          streamer ? streamer.statusDocument(redactor) : startingStatus(cfg, redactor),
        ready: () => streamer?.ready() ?? false,
        admin: adminHandler(),
      },
      log,
    );
  }

  /**
   * Restarts the pipeline: with the file read again (SIGHUP), or with the
   * map as the admin API left it. An invalid result keeps the running one.
   */
  let reloading: Promise<void> = Promise.resolve();
  const reload = (
    reason: string,
    rereadFile: boolean,
    between?: () => Promise<void>,
  ): Promise<void> => {
    reloading = reloading.then(async () => {
      if (stopping.signal.aborted) return;
      log.info({ file: cfg.file, reason }, 'reloading the configuration');
      try {
        const file = rereadFile ? await loadArgsConfig(args, 'run') : fileCfg;
        const next = await mapSource.resolve(file);
        const problem = await rulesProblem(next);
        if (problem) throw new StreamerError('config', problem);
        fileCfg = file;
        cfg = next;
      } catch (err: unknown) {
        log.error({ err }, 'the new configuration is invalid; keeping the running one');
        return;
      }
      await streamer?.stop();
      await between?.().catch((err: unknown) => log.error({ err, reason }, 'reload step failed'));
      streamer = await start();
    });
    return reloading;
  };
  const onHup = () => void reload('SIGHUP', true);

  function adminHandler(): NonNullable<HttpHandlers['admin']> {
    const deps = adminDeps({
      store: () => mapSource.store(),
      destination: destinationPoolFor(),
      destinationUrl: () => cfg.destination.url,
      destinationSchema: () => cfg.destination.schema,
      metadataSchema: () => cfg.destination.metadataSchema,
      auth: { ...cfg.auth, apiToken: process.env.KUVASZ_API_TOKEN || undefined },
      cors: cfg.cors,
      apply: (reason, between) => reload(reason, false, between),
      log,
    });
    const doc = openApiDocument(VERSION);
    return (req, res) => handleAdmin(req, res, deps, () => doc);
  }

  function destinationPoolFor(): pg.Pool {
    adminPool ??= new pg.Pool({
      connectionString: cfg.destination.url,
      max: 2,
      application_name: 'kuvasz-streamer',
    });
    adminPool.on('error', () => undefined);
    return adminPool;
  }

  let signals = 0;
  const stop = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal: sig }, 'second signal: exiting without waiting');
      process.exit(EXIT.runtime);
    }
    log.info({ signal: sig }, 'stopping: flushing and acknowledging');
    stopping.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', onHup);
  try {
    streamer = await start();
    if (!stopping.signal.aborted) {
      await new Promise<void>((resolve) =>
        stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    }
    await reloading;
    const deadline = cfg.apply.shutdownTimeoutMs;
    if (!(await stopWithin(streamer, deadline))) {
      const pending = streamer?.unflushed() ?? [];
      log.error(
        { deadlineMs: deadline, sources: pending },
        `stopping: not flushed within ${deadline} ms (${pending.join(', ') || 'the destination'}); exiting anyway: what was not acknowledged is replayed at the next start`,
      );
      process.exit(EXIT.runtime);
    }
    log.info('stopped');
    return EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', onHup);
    await http?.close();
    await adminPool?.end().catch(() => undefined);
    await mapSource.close().catch(() => undefined);
  }
}

/** Stops the streamer; false when it did not finish within `ms` (it goes on in the background). */
async function stopWithin(streamer: Streamer | undefined, ms: number): Promise<boolean> {
  if (!streamer) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([streamer.stop().then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The status while the pipeline (re)starts: every source starting, nothing read yet. */
function startingStatus(cfg: Config, redactor: Redactor): StatusDocument {
  return buildStatusDocument({
    cfg,
    redactor,
    stored: [],
    live: cfg.sources.map((s) => ({
      database: s.database,
      sid: s.sid,
      slot: '',
      state: 'starting',
      lastError: undefined,
      receivedLsn: undefined,
      flushedLsn: undefined,
      lagSeconds: 0,
      retries: 0,
    })),
    health: new Map(),
    sync: new Map(),
    stats: [],
  });
}
